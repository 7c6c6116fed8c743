"""`mmrag bench ingest|query|scale`: benchmarks that put each cost beside its floor.

Each prints a markdown table (or, with --json, the JSON) and writes the JSON with raw figures and
ratios to --out. They are benchmarks, not timed tests: run them niced on a quiet machine and quote
the medians of --repeat runs. See docs/performance.md for the figures and how they were produced.
"""

from __future__ import annotations

import argparse
from typing import Any

from mmrag.errors import UserError
from mmrag.stores.hnsw_flags import add_hnsw_flags, hnsw_from_args


def _ints(text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return vals


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the JSON result instead of the markdown table")
    p.add_argument("--out", metavar="FILE", help="write the JSON result to FILE")
    p.add_argument("--repeat", type=int, default=3, metavar="N", help="timed runs; medians are reported (default 3)")


def _encoders(spec: str | None) -> dict[str, str]:
    encoders = {}
    for part in filter(None, (spec or "").split(",")):
        ch, sep, name = part.partition("=")
        if not sep or ch not in ("text", "image", "audio"):
            raise UserError(f"--encoders takes channel=name pairs (text|image|audio), got {part!r}")
        encoders[ch] = name
    return encoders


def _scale(args: argparse.Namespace) -> int:
    from mmrag.evals.bench_scale import ScaleConfig, main_scale

    if args.n < 100:
        raise UserError("--n must be at least 100")
    hnsw_from_args(args)  # validates
    cfg = ScaleConfig(n=args.n, queries=args.queries, source=args.source, noise=args.noise, space=args.space,
                      repeat=args.repeat, path=args.store, reuse=args.reuse,
                      sync_threshold=args.sync_threshold, batch_size=args.batch_size,
                      milestones=args.milestones or [], progress_out=args.out, num_threads=args.num_threads, add_batch=args.add_batch)
    if args.max_neighbors:
        cfg.max_neighbors = args.max_neighbors
    if args.ef_construction:
        cfg.ef_construction = args.ef_construction
    if args.ef_search:
        cfg.ef_search = args.ef_search
    main_scale(cfg, out=args.out, as_json=args.json)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from mmrag.evals.bench_ingest import IngestBenchConfig, main_ingest

    encoders = _encoders(args.encoders)
    cfg = IngestBenchConfig(data=args.data, limit=args.limit, video_limit=args.video_limit,
                            naive_limit=args.naive_limit, repeat=args.repeat,
                            modalities=args.modalities, naive=not args.no_naive, ocr=args.ocr,
                            transcripts=args.transcripts, workers=args.workers, encoders=encoders,
                            stand_in_heads=args.stand_in_heads)
    main_ingest(cfg, out=args.out, as_json=args.json)
    return 0


def _query(args: argparse.Namespace) -> int:
    from mmrag.evals.bench_query import QueryBenchConfig, main_query

    cfg = QueryBenchConfig(data=args.data, store=args.store, questions=args.questions, repeat=args.repeat,
                           concurrency=args.concurrency, chroma_url=args.chroma_url, k=args.k,
                           server=not args.no_server, encoders=_encoders(args.encoders))
    main_query(cfg, out=args.out, as_json=args.json)
    return 0


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser("bench", help="performance benchmarks: ingest, query, scale",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)

    p = sub.add_parser("ingest", help="ingest throughput vs the encoders alone and a naive one-by-one baseline")
    p.add_argument("--data", default=None, help="data root (default $MMRAG_DATA or ../shared/data)")
    p.add_argument("--limit", type=int, default=64, help="files per modality (0 = all)")
    p.add_argument("--video-limit", type=int, default=6, help="videos (0 = all)")
    p.add_argument("--naive-limit", type=int, default=24, help="files per modality for the naive baseline")
    p.add_argument("--modalities", default="image,audio,video", help="comma-separated: image,audio,video")
    p.add_argument("--no-naive", action="store_true", help="skip the naive one-at-a-time baseline")
    p.add_argument("--ocr", action="store_true", help="run OCR on images (off: the floor is the encoders alone)")
    p.add_argument("--transcripts", action="store_true", help="transcribe speech in audio and video")
    p.add_argument("--workers", type=int, default=2, help="extraction threads of the pipeline")
    p.add_argument("--encoders", default=None, help="override encoders, e.g. image=hash-image,audio=hash-audio")
    p.add_argument("--stand-in-heads", action="store_true",
                   help="random translator heads of the shipped shape (timing only, when the trained ones are absent)")
    _common(p)
    p.set_defaults(func=_ingest)

    p = sub.add_parser("query", help="ask() latency per node, retrieval vs raw chroma, concurrency")
    p.add_argument("--data", default=None, help="data root (default $MMRAG_DATA or ../shared/data)")
    p.add_argument("--store", default=None, help="an ingested store to query (default: build one from --data)")
    p.add_argument("--questions", type=int, default=200, help="questions (>= 200 for the reported figures)")
    p.add_argument("--concurrency", type=_ints, default=[1, 2, 4, 8], help="concurrent questions, e.g. 1,2,4,8")
    p.add_argument("--chroma-url", default=None, help="also measure against this Chroma server")
    p.add_argument("--no-server", action="store_true", help="do not start a local `chroma run` server")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--encoders", default=None, help="override encoders, e.g. image=hash-image,audio=hash-audio")
    _common(p)
    p.set_defaults(func=_query)

    p = sub.add_parser("scale", help="one collection of N clustered vectors: build, memory, disk, recall@10, latency")
    p.add_argument("--n", type=int, default=100_000, help="vectors (1000000 for the headline figure)")
    p.add_argument("--queries", type=int, default=200, help="queries for recall and latency")
    p.add_argument("--source", choices=["flickr8k", "gmm"], default="flickr8k",
                   help="cluster centres: MiniLM embeddings of Flickr8k captions, or a Gaussian mixture")
    p.add_argument("--noise", type=float, default=0.6, help="noise norm around each centre")
    p.add_argument("--store", default=None, help="keep the built store here (default: a temporary dir, removed)")
    p.add_argument("--milestones", type=_ints, default=None,
                   help="also measure at these sizes on the way to --n, e.g. 100000,200000 (--out is rewritten "
                        "after each, so a build stopped early still leaves figures)")
    p.add_argument("--reuse", action="store_true", help="reuse the --store built earlier with the same settings")
    p.add_argument("--add-batch", type=int, default=5000, help="vectors per collection.add call")
    add_hnsw_flags(p, ef_search_type=_ints, space_default="cosine")
    _common(p)
    p.set_defaults(func=_scale, repeat=1)
