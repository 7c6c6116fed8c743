"""`mmrag ask` and `mmrag train-fusion`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mmrag.errors import UserError


def _encoders(specs: list[str] | None) -> dict[str, str]:
    out = {}
    for spec in specs or []:
        ch, sep, name = spec.partition("=")
        if not sep or ch not in ("text", "image", "audio"):
            raise UserError(f"bad --encoders {spec!r}: write CHANNEL=NAME, e.g. image=hash-image")
        out[ch] = name
    return out


def register(sub: Any) -> None:
    p = sub.add_parser("ask", help="answer a question from the store, with cross-modal citations")
    p.add_argument("question", nargs="?", default="", help="the question (may be empty with --image/--audio)")
    p.add_argument("--image", help="an image file to ask with")
    p.add_argument("--audio", help="an audio file to ask with")
    p.add_argument("--store", default=None, help="store directory (default .mmrag or $MMRAG_STORE)")
    p.add_argument("--chroma-url", default=None, help="a Chroma server instead of a local store")
    p.add_argument("--fusion", choices=["score", "rrf", "moe", "attention"], default=None)
    p.add_argument("--normalisation", choices=["minmax", "zscore"], default=None)
    p.add_argument("-k", type=int, default=None, help="items per modality and sub-query")
    p.add_argument("--threshold", type=float, default=None, help="confidence threshold")
    p.add_argument("--max-hops", type=int, default=None)
    p.add_argument("--encoders", nargs="*", metavar="CHANNEL=NAME", help="override the stored encoders")
    p.add_argument("--generator", choices=["auto", "llm", "extractive"], default=None)
    p.add_argument("--decomposer", choices=["auto", "rules", "llm"], default=None)
    p.add_argument("--llm-base-url", default=None)
    p.add_argument("--llm-model", default=None)
    p.add_argument("--llm-api-key", default=None)
    p.add_argument("--no-images", action="store_true", help="do not send retrieved images to the VLM")
    p.add_argument("--thread", default=None, help="thread id (continues a conversation with --checkpoint)")
    p.add_argument("--checkpoint", default=None, help="SQLite file persisting threads")
    p.add_argument("--stream", action="store_true", help="print node progress (stderr) and tokens as they come")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--trace", default=None, metavar="FILE", help="write every node's update and the final state (JSON)")
    p.set_defaults(func=cmd_ask)

    t = sub.add_parser("train-fusion", help="train the MoE gate and attention fusion on ../shared/data")
    t.add_argument("--data", default=None, help="data root (default $MMRAG_DATA or ../shared/data)")
    t.add_argument("--out", default=None, help="weights folder (default: the package's graph/weights)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--queries", type=int, default=1500, help="training queries per modality (max)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train_fusion)


def _context(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "fusion": args.fusion, "normalisation": args.normalisation, "k": args.k,
        "confidence_threshold": args.threshold, "max_hops": args.max_hops, "generator": args.generator,
        "decomposer": args.decomposer, "llm_base_url": args.llm_base_url, "llm_model": args.llm_model,
        "llm_api_key": args.llm_api_key,
    }
    ctx = {k: v for k, v in pairs.items() if v is not None}
    if args.no_images:
        ctx["send_images"] = False
    return ctx


def _print_human(ans: Any) -> None:
    print(ans.text)
    print()
    for c in ans.citations:
        span = f" {c.start:.1f}-{c.end:.1f}s" if c.start is not None and c.end is not None else ""
        print(f"  {c.marker:<20} {c.modality:<6} {c.source}{span}  (id {c.id})")
    if ans.invalid_citations:
        print(f"  removed invalid citations: {', '.join(ans.invalid_citations)}")
    kind = "extractive" if ans.extractive else "llm"
    print(f"confidence {ans.confidence:.2f}  hops {ans.hops}  generator {kind}  decomposer {ans.decomposer}")
    print("timings: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in ans.timings.items()))


def cmd_ask(args: argparse.Namespace) -> int:
    from mmrag.graph.rag import MultimodalRAG

    if args.store and not args.chroma_url and not Path(args.store).exists():
        raise UserError(f"no store at {args.store}; run `mmrag ingest DIR --store {args.store}` first")
    rag = MultimodalRAG(
        store=args.store or ".mmrag", chroma_url=args.chroma_url, encoders=_encoders(args.encoders) or None,
        checkpoint=args.checkpoint, **_context(args),
    )
    events: list[dict[str, Any]] = []
    answer = None
    streamed = False
    collector = None
    if args.trace:
        from mmrag.graph.tracing import make_collector

        collector = make_collector(rag.context)
    stream = rag.stream(args.question, image=args.image, audio=args.audio, thread_id=args.thread,
                        callbacks=[collector] if collector else None)
    for mode, payload in stream:
        if mode == "updates":
            for node, update in payload.items():
                events.append({"node": node, "update": update})
                if args.stream:
                    print(f"[{node}] done", file=sys.stderr, flush=True)
        elif mode == "messages" and args.stream and not args.json:
            from langchain_core.messages import AIMessageChunk

            chunk, meta = payload
            if meta.get("langgraph_node") == "generate" and isinstance(chunk, AIMessageChunk) and chunk.content:
                print(chunk.content, end="", flush=True)
                streamed = True
        elif mode == "answer":
            answer = payload
    assert answer is not None
    if streamed:
        print()
    if args.trace:
        runs = collector.tree() if collector is not None else []
        Path(args.trace).write_text(json.dumps({"events": events, "runs": runs, "answer": answer.to_json()},
                                               indent=1, default=str))
    if args.json:
        print(json.dumps(answer.to_json(), indent=2))
    else:
        if streamed:
            print("--- checked answer ---")
        _print_human(answer)
    return 0


def cmd_train_fusion(args: argparse.Namespace) -> int:
    from mmrag.graph.train_fusion import train

    report = train(data=args.data, out=args.out, epochs=args.epochs, max_queries=args.queries, seed=args.seed)
    print(json.dumps(report, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
    return 0
