"""Where the training/eval data lives and where extracted features are cached.

Data is read from `$MMRAG_DATA` (default `<repo>/../shared/data`) and never copied into the repo.
Features are cached under `$MMRAG_FEATURE_CACHE` (default `~/.cache/mmrag/features`).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import defaultdict
from pathlib import Path

from mmrag.errors import UserError

REPO = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    return Path(os.environ.get("MMRAG_DATA", REPO.parent / "shared" / "data"))


def cache_root() -> Path:
    root = Path(os.environ.get("MMRAG_FEATURE_CACHE", Path.home() / ".cache" / "mmrag" / "features"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def require(path: Path) -> Path:
    if not path.exists():
        raise UserError(f"data not found: {path} (set MMRAG_DATA to the shared data folder)")
    return path


def flickr_split(split: str) -> list[str]:
    path = require(data_root() / "flickr8k" / "splits" / f"{split}.txt")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def flickr_captions() -> dict[str, list[str]]:
    caps: dict[str, list[str]] = defaultdict(list)
    with open(require(data_root() / "flickr8k" / "captions.csv"), newline="") as fh:
        for row in csv.DictReader(fh):
            caps[row["image"]].append(row["caption"].strip())
    return dict(caps)


def esc50_rows() -> list[dict[str, str]]:
    with open(require(data_root() / "esc50" / "esc50_fold4.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


def esc50_group_split(src_file: str) -> str:
    """Deterministic split of ESC-50 recordings, grouped by `src_file`: ~60% train, 15% dev, 25% test."""
    h = int(hashlib.sha256(src_file.encode()).hexdigest()[:8], 16) % 100
    return "train" if h < 60 else ("dev" if h < 75 else "test")


def audiocaps_captions() -> dict[str, list[str]]:
    caps: dict[str, list[str]] = defaultdict(list)
    with open(require(data_root() / "audiocaps" / "captions.csv"), newline="") as fh:
        for row in csv.DictReader(fh):
            caps[row["clip"]].append(row["caption"].strip())
    return dict(caps)


def video_captions() -> dict[Path, list[str]]:
    """All 35 videos (MSR-VTT 24 + AudioCaps 11) -> their human captions."""
    root = data_root()
    out: dict[Path, list[str]] = defaultdict(list)
    with open(require(root / "msrvtt" / "captions.csv"), newline="") as fh:
        for row in csv.DictReader(fh):
            out[root / "msrvtt" / "video" / f"{row['video_id']}.mp4"].append(row["sentence"].strip())
    for clip, caps in audiocaps_captions().items():
        path = root / "audiocaps" / "video" / f"{clip}.mp4"
        if path.exists():
            out[path].extend(caps)
    return dict(out)
