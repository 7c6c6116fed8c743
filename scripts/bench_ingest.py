#!/usr/bin/env python
"""Ingestion throughput next to the encoders' own batched throughput, on the same real files.

    .venv/bin/python scripts/bench_ingest.py --limit 32
    .venv/bin/python scripts/bench_ingest.py --limit 16 --encoders image=open-clip-random --modalities image

For images (Flickr8k), audio (ESC-50 + AudioCaps) and video (MSR-VTT + AudioCaps) it prints
images/s, audio s/s and video s/s of the whole pipeline (`mmrag.stores.ingest.run_ingest`: discovery,
decoding in a thread pool, batched encoding, chroma writes, per-file commits) beside the encoders
alone on the already-decoded payloads in the same batch sizes, and the pipeline's overhead in %
(pipeline time / encoder time - 1; the goal is under 20%). Measuring is done by
`mmrag.evals.bench_ingest` (also `mmrag bench ingest`, which adds a naive one-by-one baseline);
this script is its short form. OCR and transcripts are off unless asked for, so that the floor is
the embedding encoders alone. `open-clip-random` is ViT-B-32 with random weights: a stand-in of
realistic cost; when the default translators' trained heads are not shipped yet, they are timed
with random heads of the same shape (same compute).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _register_stand_ins() -> None:
    from mmrag.encoders import register

    register("open-clip-random", "mmrag.encoders.open_clip_encoder:OpenClipEncoder", pretrained=None)


def _defaults_ready() -> bool:
    from mmrag.encoders import EncoderError, get_encoder
    from mmrag.stores.chroma_store import DEFAULT_ENCODERS

    try:
        for ch in ("image", "audio"):
            get_encoder(DEFAULT_ENCODERS[ch]).config()
    except (EncoderError, FileNotFoundError, ImportError):
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=32, help="files per modality (0 = all)")
    p.add_argument("--video-limit", type=int, default=4, help="videos (each is many keyframes and segments)")
    p.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    p.add_argument("--modalities", default="image,audio,video")
    p.add_argument("--encoders", default=None, help="channel=name,... (default: text=minilm "
                   "image=effnet-translator audio=whisper-translator; with random heads of the trained heads' "
                   "shape when those are not shipped yet)")
    p.add_argument("--ocr", action="store_true")
    p.add_argument("--transcripts", action="store_true")
    p.add_argument("--naive", action="store_true", help="also the naive one-by-one baseline (slow)")
    p.add_argument("--data", default=None)
    p.add_argument("--json", default=None, help="also write the full result to this JSON file")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    _register_stand_ins()
    from mmrag.evals.bench_ingest import IngestBenchConfig, run_ingest_bench

    encoders: dict[str, str] = {}
    for part in filter(None, (args.encoders or "").split(",")):
        ch, _, name = part.partition("=")
        encoders[ch.strip()] = name.strip()
    stand_in = not _defaults_ready()
    if stand_in:
        print("the default encoders' trained heads are missing: timing them with random heads of the same "
              "shape (same compute, meaningless vectors)", file=sys.stderr)
    cfg = IngestBenchConfig(data=args.data, limit=args.limit, video_limit=args.video_limit, repeat=args.repeat, modalities=args.modalities,
                            naive=args.naive, ocr=args.ocr, transcripts=args.transcripts, encoders=encoders,
                            stand_in_heads=stand_in)
    res = run_ingest_bench(cfg)
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    print(f"encoders: {res['encoders']}, heads {res.get('heads', 'shipped')}  (model load {res['model_load_s']:.1f} s, not timed; torch threads "
          f"{res['torch_threads']}; ocr={args.ocr} transcripts={args.transcripts})")
    print(f"{'modality':<8} {'files':>5} {'pipeline':>22} {'encoders alone':>22} {'overhead':>9}")
    for r in res["kinds"]:
        over = (r["pipeline_s"] / r["floor_s"] - 1.0) * 100 if r["floor_s"] else float("inf")
        print(f"{r['kind']:<8} {r['files']:>5} {r['pipeline_rate']:>10.2f} {r['unit']:<11} "
              f"{r['floor_rate']:>10.2f} {r['unit']:<11} {over:>8.1f}%")
        print(f"{'':<8} {'':>5} decode {r['decode_s']:.2f} s, encode {r['floor_s']:.2f} s, writes "
              f"{r['write_s']:.2f} s (serial); pipeline {r['pipeline_s']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
