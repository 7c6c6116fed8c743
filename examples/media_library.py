#!/usr/bin/env python
"""Media library search over ../shared/data (photos, sounds, videos), when it is present.

Ingests a sample of the evaluation data (Flickr8k test photos, ESC-50 sounds, MSR-VTT videos) by
linking it into a working folder (the data is never copied), then searches it by words and by
example, printing each hit with its human label so you can judge the results:

    .venv/bin/python examples/media_library.py                          # 60 photos, 40 sounds, 4 videos
    .venv/bin/python examples/media_library.py --photos 300 --sounds 200 --videos 10 --work /tmp/lib
    .venv/bin/python examples/media_library.py --query "a dog in the snow" --query "rain"

The data folder is `$MMRAG_DATA` or `../shared/data` beside this checkout. Second runs reuse the
store in WORK/store (ingestion is incremental).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = [("a dog running on grass", "image"), ("children playing in the water", "image"),
                   ("a dog barking", "audio"), ("rain falling", "audio"), ("a person cooking", "video")]


def data_root() -> Path:
    return Path(os.environ.get("MMRAG_DATA", REPO.parent / "shared" / "data"))


def labels(root: Path) -> dict[str, str]:
    """A human label per file name: the first Flickr caption, the ESC-50 class, the MSR-VTT sentence."""
    out: dict[str, str] = {}
    with open(root / "flickr8k/captions.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["image"], row["caption"])
    with open(root / "esc50/esc50_fold4.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["file"]] = row["category"]
    with open(root / "msrvtt/captions.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["video_id"] + ".mp4", row["sentence"])
    return out


def link_sample(root: Path, lib: Path, photos: int, sounds: int, videos: int) -> int:
    """Symbolic links to a deterministic, evenly spread sample (Flickr8k: its test split only)."""
    def spread(files: list[Path], n: int) -> list[Path]:
        return files if n >= len(files) else [files[int(i * len(files) / n)] for i in range(n)]

    test = sorted((root / "flickr8k/splits/test.txt").read_text().split())
    picks = {"photos": spread([root / "flickr8k/images" / n for n in test[:-1]], photos),
             "sounds": spread(sorted((root / "esc50").rglob("*.flac")), sounds),
             "videos": spread(sorted((root / "msrvtt").rglob("*.mp4")), videos)}
    n = 0
    for folder, files in picks.items():
        (lib / folder).mkdir(parents=True, exist_ok=True)
        for f in files:
            link = lib / folder / f.name
            if not link.exists():
                link.symlink_to(f)
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--sounds", type=int, default=40)
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--query", action="append", default=None, help="a text query (repeatable); searched in all modalities")
    ap.add_argument("--image", type=Path, default=None, help="search by an example photo")
    ap.add_argument("-k", type=int, default=3)
    ap.add_argument("--encoders", choices=["default", "hash"], default="default", help="hash: model-free, for a quick look")
    args = ap.parse_args(argv)
    root = data_root()
    if not (root / "flickr8k").is_dir():
        print(f"no evaluation data at {root} (set MMRAG_DATA); nothing to search", file=sys.stderr)
        return 0
    from mmrag import api

    work = args.work or Path(tempfile.mkdtemp(prefix="mmrag-media-library-"))
    n = link_sample(root, work / "library", args.photos, args.sounds, args.videos)
    encoders = {"text": "hash-text", "image": "hash-image", "audio": "hash-audio"} if args.encoders == "hash" else None
    store = str(work / "store")
    report = api.ingest(work / "library", store=store, encoders=encoders, follow_links=True, progress=True)
    print(f"library: {n} files linked from {root}; {report.files_ingested} ingested, "
          f"{report.files_unchanged} unchanged, {len(report.issues)} issues, {report.seconds:.1f} s")
    names = labels(root)
    queries = [(q, None) for q in args.query] if args.query else DEFAULT_QUERIES
    for q, modality in queries:
        print(f"\n{q!r}" + (f" in {modality}" if modality else ""))
        for h in api.search(q, modality=modality, k=args.k, store=store, encoders=encoders):
            at = f" at {h.start:.0f}s" if h.start is not None and h.modality in ("audio", "video") else ""
            print(f"  {h.score:5.2f}  {h.modality:<5} {h.source}{at}  — {names.get(Path(h.source).name, '?')}")
    example = args.image or (root / "flickr8k/images" / sorted((root / "flickr8k/splits/test.txt").read_text().split())[-1])
    print(f"\nphotos like {example.name} — {names.get(example.name, '?')}")
    for h in api.search(image=str(example), modality="image", k=args.k, store=store, encoders=encoders):
        print(f"  {h.score:5.2f}  {h.source}  — {names.get(Path(h.source).name, '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
