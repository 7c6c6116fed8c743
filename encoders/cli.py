"""`mmrag train-encoders`: extract features (cached) and train the translator heads, seeded.

    mmrag train-encoders                                  # image (lite1, attention head) + sound heads
    mmrag train-encoders --which image --backbone lite0+lite2 --head mlp --out /tmp/heads
    mmrag train-encoders --which audio --measure          # also print the test-split figures
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .effnet import DEFAULT_BACKBONE  # numpy only: the parser still loads no torch


DEFAULT_AUDIO_FEATURES = "whisper-trim-L0+1"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("train-encoders", help="train the image/sound translator heads (offline, CPU)")
    p.add_argument("--which", choices=["image", "audio", "all"], default="all")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE,
                   help=f"lite0 | lite1 | lite2 | lite0+lite2 (image head; default {DEFAULT_BACKBONE})")
    p.add_argument("--head", choices=["linear", "mlp"], default="linear")
    p.add_argument("--no-attn", action="store_true", help="image head: pooled features only, no attention pooling")
    p.add_argument("--views", type=int, default=0,
                   help="augmented training views per image (crop + flip, cached; default 0: they moved test recall by under a point)")
    p.add_argument("--audio-features", default=DEFAULT_AUDIO_FEATURES,
                   help=f"sound head features: whisper[-trim][-L<layers>] ({DEFAULT_AUDIO_FEATURES}: trimmed windows, "
                        "layers 0 and 1 of 0-4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sound-fit", choices=["train", "train+dev"], default="train+dev",
                   help="sound heads: train on the train groups with early stopping on dev, or on train+dev for "
                        "a fixed number of epochs chosen by cross-validation (default)")
    p.add_argument("--epochs", type=int, default=None,
                   help="maximum epochs (early stopping on dev); with --sound-fit train+dev, the exact count")
    p.add_argument("--out", type=Path, default=None, help="where to write the heads (default: the package's weights/)")
    p.add_argument("--measure", action="store_true", help="measure the trained heads on the test splits")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmrag.errors import UserError

    from .effnet import parse_backbones
    from .features import audio_frames, flickr_image_features, parse_audio_kind
    from .train import WEIGHTS_DIR, train_audio, train_image

    out = Path(args.out) if args.out else WEIGHTS_DIR
    report: dict[str, Any] = {}
    if args.which in ("image", "all"):
        try:
            backbones = parse_backbones(args.backbone)
        except Exception as exc:
            raise UserError(str(exc)) from exc
        if args.views < 0:
            raise UserError("--views must be >= 0")
        for bb in backbones:
            for view in range(args.views + 1):  # extracts what is missing (cached under ~/.cache/mmrag/features)
                flickr_image_features(bb, view=view)
        kw = {"epochs": args.epochs} if args.epochs else {}
        report["image"] = train_image(args.backbone, args.head, attn=not args.no_attn, seed=args.seed, out=out,
                                      views=args.views, **kw)
    if args.which in ("audio", "all"):
        try:
            spec = parse_audio_kind(args.audio_features)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        if spec["extractor"] != "whisper":
            raise UserError("--audio-features picks the Whisper features; the log-mel baseline is always trained")
        for kind in (args.audio_features, "logmel"):
            audio_frames(kind, "esc50")
            kw = {"epochs": args.epochs} if args.epochs else {}
            report[f"audio-{kind}"] = train_audio(kind, args.head, seed=args.seed, out=out, fit_on=args.sound_fit, **kw)
    if args.measure:
        from .measure import measure_all

        report["measure"] = measure_all(out, which=args.which)
    for v in report.values():
        if isinstance(v, dict):
            v.pop("history", None)
    print(json.dumps(report, indent=2))
    return 0
