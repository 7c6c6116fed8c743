"""`mmrag demo` (the bundled city guide, end to end) and `mmrag design SPEC.md` (the pipeline designer)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mmrag.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="answer a cross-modal question over the bundled city guide (offline)")
    p.add_argument("--json", action="store_true", help="print the same JSON as `mmrag ask --json`")
    p.add_argument("--store", type=Path, default=None, help="where to build the demo store (default ~/.cache/mmrag/demo)")
    p.add_argument("--rebuild", action="store_true", help="delete and rebuild the demo store")
    p.add_argument("--question", default=None, help="ask something else of the city guide")
    p.set_defaults(func=_demo)

    d = sub.add_parser("design", help="design a multimodal RAG pipeline from a product spec (markdown)")
    d.add_argument("spec", type=Path, help="the product spec, a markdown or text file")
    d.add_argument("--out", type=Path, default=None, help="output folder (default designs/<spec name>)")
    d.add_argument("--llm-model", default=None, help="chat model for an LLM-backed design (env MMRAG_LLM_MODEL)")
    d.add_argument("--llm-base-url", default=None, help="OpenAI-compatible endpoint (env MMRAG_LLM_BASE_URL)")
    d.add_argument("--rules", action="store_true", help="rule-based even when a model is configured")
    d.add_argument("--json", action="store_true", help="print the config as JSON instead of a summary")
    d.set_defaults(func=_design)


def _design(args: argparse.Namespace) -> int:
    from mmrag.design import design_from_spec, design_rules
    from mmrag.design_render import write_design

    if not args.spec.is_file():
        raise UserError(f"spec not found: {args.spec}")
    spec = args.spec.read_text(encoding="utf-8", errors="replace")
    d = design_rules(spec) if args.rules else design_from_spec(spec, args.llm_model, args.llm_base_url)
    out = args.out or Path("designs") / args.spec.stem
    md, cfg = write_design(d, out)
    if args.json:
        print(json.dumps(d.config(), indent=2))
    else:
        print(f"{d.title}\n  domain {d.domain}, entity {d.entity}, risk {d.risk}, designer {d.designer}")
        for m in d.modalities:
            print(f"  {m.modality:<6} {m.role:<25} {m.encoder_pattern:<20} {', '.join(m.encoders.values())}")
        print(f"  fusion {d.fusion.strategy}; avoids: {d.fusion.avoids}")
        print(f"wrote {md} and {cfg}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from mmrag.demo import DEFAULT_QUESTION, run_demo

    t0 = time.perf_counter()
    result = run_demo(store=args.store, rebuild=args.rebuild, question=args.question or DEFAULT_QUESTION)
    if args.json:
        print(json.dumps(result.answer_json, indent=2, default=str))
        for note in result.notes:
            print(f"mmrag demo: note: {note}", file=sys.stderr)
    else:
        print(result.text)
        print(f"(mmrag demo: {time.perf_counter() - t0:.1f} s in all)", file=sys.stderr)
    return 0
