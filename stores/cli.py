"""`mmrag ingest`, `mmrag stats` and `mmrag search`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mmrag.errors import UserError
from mmrag.schemas import MODALITIES, IngestReport


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=".mmrag", help="store directory (default ./.mmrag)")
    p.add_argument("--chroma-url", default=None, help="a Chroma server instead of a directory "
                   "(default: env MMRAG_CHROMA_URL); this flag wins over the env")
    p.add_argument("--encoders", default=None, metavar="CH=NAME,...",
                   help="encoder per channel, e.g. image=hash-image,audio=hash-audio "
                   "(default: the store's own, else text=minilm image=effnet-translator audio=whisper-translator)")


def _open(args: argparse.Namespace, must_exist: bool = True) -> Any:
    from .search import open_store, parse_encoders

    return open_store(args.store, args.chroma_url, parse_encoders(args.encoders), must_exist=must_exist)


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="ingest a file or folder of text, images, audio and video")
    p.add_argument("path")
    _store_args(p)
    p.add_argument("--prune", action="store_true", help="remove units of files that are gone")
    p.add_argument("--strict", action="store_true", help="exit non-zero if any file had a problem")
    p.add_argument("--follow-links", action="store_true", help="follow symbolic links leaving the folder")
    p.add_argument("--no-ocr", action="store_true", help="skip OCR of images")
    p.add_argument("--no-transcripts", action="store_true", help="skip Whisper transcripts")
    p.add_argument("--segment-seconds", type=float, default=10.0, help="audio segment length (10)")
    p.add_argument("--keyframe-every", type=float, default=5.0, help="seconds between video keyframes (5)")
    p.add_argument("--max-pixels", type=int, default=50_000_000, help="largest image accepted, in pixels")
    p.add_argument("--max-file-bytes", type=int, default=2 * 1024**3, help="largest file accepted")
    p.add_argument("--max-audio-seconds", type=float, default=3 * 3600.0, help="audio/video beyond this is cut")
    p.add_argument("--workers", type=int, default=2, help="decoding threads (2)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    from .hnsw_flags import add_hnsw_flags

    add_hnsw_flags(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("stats", help="units per modality, entities and encoders of a store")
    _store_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("search", help="raw retrieval (no LLM) by text, image or audio")
    p.add_argument("query", nargs="?", default=None)
    _store_args(p)
    p.add_argument("--modality", choices=MODALITIES, default=None)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--image", default=None, help="an image file as the query")
    p.add_argument("--audio", default=None, help="an audio file as the query")
    p.add_argument("--where", default=None, help='chroma metadata filter as JSON, e.g. \'{"entity": "x"}\'')
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)


def summary(report: IngestReport) -> str:
    added = sum(report.units_added.values())
    lines = [
        f"ingested {report.files_ingested} file(s), {report.files_unchanged} unchanged, "
        f"{report.files_removed} removed, {len(report.issues)} with issues, of {report.files_seen} seen "
        f"in {report.seconds:.1f} s",
        f"units added: {added}" + (f" ({', '.join(f'{k} {v}' for k, v in sorted(report.units_added.items()))})"
                                   if added else "") + f"; units removed: {report.units_removed}",
    ]
    if report.media_seconds:
        lines.append("media: " + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(report.media_seconds.items())))
    for issue in report.issues[:50]:
        lines.append(f"  ! {issue.path}: {issue.reason}")
    if len(report.issues) > 50:
        lines.append(f"  ! ... and {len(report.issues) - 50} more (see --json)")
    return "\n".join(lines)


def cmd_ingest(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .extract import IngestOptions
    from .ingest import run_ingest

    try:
        opts = IngestOptions(
            ocr=not args.no_ocr, transcripts=not args.no_transcripts, segment_seconds=args.segment_seconds,
            keyframe_every=args.keyframe_every, max_pixels=args.max_pixels, max_file_bytes=args.max_file_bytes,
            max_audio_seconds=args.max_audio_seconds, workers=args.workers,
        )
    except ValidationError as exc:
        raise UserError(str(exc)) from exc
    from .hnsw_flags import hnsw_from_args

    store = _open(args, must_exist=False)
    store.hnsw.update(hnsw_from_args(args))  # for the collections this run creates
    report = run_ingest(args.path, store, opts, prune=args.prune, follow_links=args.follow_links,
                        progress=not args.quiet)
    print(report.model_dump_json(indent=2) if args.json else summary(report))
    if args.strict and report.issues:
        print(f"mmrag: error: {len(report.issues)} file(s) had problems (--strict)", file=sys.stderr)
        return 1
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .chroma_store import EncoderMismatch

    try:
        stats = _open(args).stats()
    except EncoderMismatch as exc:  # e.g. a retrained head since the store was written
        raise UserError(str(exc)) from exc
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
        return 0
    print(f"store {stats['store']}: {stats['files']} files, {stats['units']} units")
    for mod, n in sorted(stats["units_per_modality"].items()):
        print(f"  {mod:>5}: {n} units")
    for name, info in sorted(stats["collections"].items()):
        print(f"  {name:<12} {info['units']:>7} units  encoder {info['encoder'].get('name')}")
    if stats["entities"]:
        print(f"  entities ({len(stats['entities'])}): {', '.join(stats['entities'][:20])}")
    return 0


def _fmt_time(t: float | None) -> str:
    if t is None:
        return ""
    return f"{int(t // 60)}:{t % 60:04.1f}"


def cmd_search(args: argparse.Namespace) -> int:
    from .search import search_store

    where = None
    if args.where:
        try:
            where = json.loads(args.where)
        except json.JSONDecodeError as exc:
            raise UserError(f"--where is not JSON: {exc}") from exc
    hits = search_store(_open(args), query=args.query, image=args.image, audio=args.audio,
                        modality=args.modality, k=args.k, where=where)
    if args.json:
        print(json.dumps([h.model_dump(exclude={"metadata"}) for h in hits], indent=2))
        return 0
    if not hits:
        print("no results")
    for h in hits:
        span = f" {_fmt_time(h.start)}-{_fmt_time(h.end)}" if h.start is not None else ""
        text = f"  {' '.join((h.text or '').split())[:100]!r}" if h.text else ""
        ent = f" [{h.entity}]" if h.entity else ""
        print(f"{h.rank:>3}. {h.score:.3f} {h.modality}/{h.channel}/{h.kind} {h.source}{span}{ent}{text}")
    return 0
