"""`mmrag eval retrieval|fusion|graph --bench NAME --split test [--json] [--report DIR] [--limit N]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from mmrag.errors import UserError

from .data import BENCHMARKS, load_benchmark, limit_benchmark


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("eval", help="evaluate retrieval, fusion or the graph on ../shared/data")
    sub = p.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    for name, helptext, default in (
        ("retrieval", "per-modality retrieval with the registered encoders", "flickr8k"),
        ("fusion", "every fusion strategy on the mixed corpus", "mixed"),
        ("graph", "the RAG graph on mixed-corpus questions: grounding, calibration, latency", "mixed"),
    ):
        sp = sub.add_parser(name, help=helptext)
        sp.add_argument("--bench", default=default, choices=BENCHMARKS + ("all",),
                        help="benchmark ('all' = every per-modality benchmark; retrieval only)")
        sp.add_argument("--split", default="test", help="train | dev | test (esc50 also: all)")
        sp.add_argument("--json", action="store_true", help="print metrics.json to stdout instead of the table")
        sp.add_argument("--report", metavar="DIR", help="write report.md, metrics.json, details.json and PNGs here")
        sp.add_argument("--limit", type=int, help="first N queries per query type (and N distractors per modality)")
        sp.add_argument("--encoders", metavar="SPEC",
                        help="override encoders, e.g. image=hash-image,audio=hash-audio "
                             "(defaults: text=minilm, image=effnet-translator, audio=whisper-translator)")
        sp.set_defaults(func=_run)
    from .reliability import register_reliability  # engineer G: `mmrag eval reliability`

    register_reliability(sub)


def _run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from .retrieval import parse_encoders

    encoders = parse_encoders(args.encoders)
    names = [b for b in BENCHMARKS if b != "mixed"] if args.bench == "all" else [args.bench]
    if args.bench == "all" and args.eval_command != "retrieval":
        raise UserError("--bench all is for `eval retrieval`")
    out: dict[str, Any] = {}
    md_parts: list[str] = []
    for name in names:
        bench = load_benchmark(name, args.split)
        if args.limit:
            bench = limit_benchmark(bench, args.limit)
        if args.eval_command == "retrieval":
            from .runners import retrieval_report

            metrics, md = retrieval_report(bench, encoders, args.report if len(names) == 1 else
                                           (str(Path(args.report) / name) if args.report else None))
        elif args.eval_command == "fusion":
            from .runners import fusion_report

            metrics, md = fusion_report(bench, encoders, args.report)
        else:
            from .graph_eval import graph_report

            metrics, md = graph_report(bench, encoders, args.report, limit=args.limit)
        # several benchmarks share query types (esc50 and audiocaps: text->audio): prefix them
        out.update({f"{name}:{k}": v for k, v in metrics.items()} if len(names) > 1 else metrics)
        md_parts.append(md)
    if args.json:
        json.dump(out, sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        print("\n\n".join(md_parts))
    if args.report and len(names) > 1:
        Path(args.report).mkdir(parents=True, exist_ok=True)
        (Path(args.report) / "metrics.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
        (Path(args.report) / "report.md").write_text("\n\n".join(md_parts))
    return 0
