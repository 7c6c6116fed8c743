"""Finding files to ingest: walking a folder, sniffing types by magic bytes, reading entities.

- `discover(root)` walks `root` (hidden files and folders skipped; symbolic links followed only
  when they stay inside `root`, unless `follow_links=True`) and returns the candidate files.
- `sniff(path)` identifies a file's media type from its first bytes, not from its name, so a
  mislabelled file is detected and handled by what it really is.
- `EntityResolver` reads the optional entity of a file: a sidecar `<name>.json` (or
  `<name>.<ext>.json`) beside it with `{"entity": "..."}`, or the nearest manifest `mmrag.json` /
  `manifest.json` in its folder or a parent folder (up to the root), mapping file names or globs to
  entities: `{"entities": {"*.jpg": "cafe-rosa", "menu.pdf": "cafe-rosa"}, "entity": "default"}`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["text", "image", "audio", "video"]

MANIFEST_NAMES = ("mmrag.json", "manifest.json")

# extension -> (kind, canonical media type)
EXTENSIONS: dict[str, tuple[Kind, str]] = {
    ".txt": ("text", "text/plain"),
    ".md": ("text", "text/markdown"),
    ".html": ("text", "text/html"),
    ".htm": ("text", "text/html"),
    ".pdf": ("text", "application/pdf"),
    ".jpg": ("image", "image/jpeg"),
    ".jpeg": ("image", "image/jpeg"),
    ".png": ("image", "image/png"),
    ".webp": ("image", "image/webp"),
    ".bmp": ("image", "image/bmp"),
    ".gif": ("image", "image/gif"),
    ".wav": ("audio", "audio/wav"),
    ".flac": ("audio", "audio/flac"),
    ".mp3": ("audio", "audio/mpeg"),
    ".ogg": ("audio", "audio/ogg"),
    ".m4a": ("audio", "audio/mp4"),
    ".mp4": ("video", "video/mp4"),
    ".webm": ("video", "video/webm"),
    ".mkv": ("video", "video/x-matroska"),
    ".mov": ("video", "video/quicktime"),
}
KIND_OF_TYPE: dict[str, Kind] = {mt: kind for kind, mt in EXTENSIONS.values()}
TEXT_TYPES = {"text/plain", "text/markdown", "text/html"}


def sniff_bytes(head: bytes) -> str | None:
    """Media type from a file's first bytes, or None when the content is not recognised.

    Plain text is not recognised here (any bytes without NULs could be text): see `sniff`.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:2] == b"BM" and len(head) >= 26:
        return "image/bmp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE6) == 0xE2):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    return None


def looks_like_text(head: bytes) -> bool:
    return b"\x00" not in head


def looks_like_html(head: bytes) -> bool:
    start = head[:512].lstrip().lower()
    return start.startswith(b"<!doctype html") or start.startswith(b"<html")


@dataclass(frozen=True)
class Sniffed:
    media_type: str | None  # what the content is (None: not a supported type)
    kind: Kind | None
    mislabelled: str | None = None  # a reason, when the extension says something else


def sniff(path: Path, head: bytes | None = None) -> Sniffed:
    """What a file really is, judged by its bytes first and its extension second."""
    if head is None:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    ext = path.suffix.lower()
    expected = EXTENSIONS.get(ext)
    magic = sniff_bytes(head)
    if magic is None:
        # text is only trusted with a text extension, so csv/log/json files are not swept in
        if expected and expected[1] in TEXT_TYPES and looks_like_text(head):
            if expected[1] != "text/html" and looks_like_html(head):
                return Sniffed("text/html", "text")
            return Sniffed(expected[1], "text")
        if expected:
            return Sniffed(None, None, f"extension {ext} but the content is not {expected[1]} (unrecognised bytes)")
        return Sniffed(None, None)
    kind = KIND_OF_TYPE[magic]
    if expected is None:
        return Sniffed(magic, kind)
    same_family = expected[1] == magic or (
        {expected[1], magic} <= {"video/mp4", "video/quicktime", "audio/mp4"}
        or {expected[1], magic} <= {"video/webm", "video/x-matroska"}
    )
    if same_family:
        # .m4a holding video, .mp4 holding only sound: the container decides later; trust extension
        return Sniffed(expected[1] if expected[0] in ("audio", "video") else magic, expected[0])
    return Sniffed(magic, kind, f"extension {ext} but the content is {magic}; ingested as {magic}")


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of the file's bytes, first 16 hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Candidate:
    path: Path  # absolute path
    source: str  # path relative to the root, with forward slashes


@dataclass
class Discovery:
    root: Path
    files: list[Candidate]
    skipped: list[tuple[str, str]]  # (path, reason): links leaving the root, unreadable folders


def _is_sidecar(name: str, siblings: set[str]) -> bool:
    if name in MANIFEST_NAMES:
        return True
    if not name.lower().endswith(".json"):
        return False
    stem = name[: -len(".json")]
    return stem in siblings or any(s != name and Path(s).stem == stem for s in siblings)


def discover(root: Path, follow_links: bool = False) -> Discovery:
    """Files under `root` (or `root` itself if it is a file), sorted, without sidecars/manifests."""
    root = root.absolute()
    if root.is_file():
        return Discovery(root.parent, [Candidate(root, root.name)], [])
    real_root = root.resolve()
    files: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    seen_dirs: set[str] = set()

    def inside(p: Path) -> bool:
        try:
            p.resolve().relative_to(real_root)
            return True
        except ValueError:
            return False

    def walk(d: Path) -> None:
        real = os.path.realpath(d)
        if real in seen_dirs:
            return
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((str(d.relative_to(root)), f"cannot list folder: {exc.strerror or exc}"))
            return
        names = {e.name for e in entries}
        for e in entries:
            if e.name.startswith("."):
                continue
            p = d / e.name
            rel = p.relative_to(root).as_posix()
            if e.is_symlink():
                if not p.exists():
                    skipped.append((rel, "broken symbolic link"))
                    continue
                if not follow_links and not inside(p):
                    skipped.append((rel, "symbolic link leads outside the ingested folder (use --follow-links)"))
                    continue
                if p.is_dir() and not follow_links:
                    continue  # links to folders inside the root: their files are reached directly
            if e.is_dir(follow_symlinks=True):
                walk(p)
            elif e.is_file(follow_symlinks=True) and not _is_sidecar(e.name, names):
                files.append(Candidate(p, rel))

    walk(root)
    return Discovery(root, files, skipped)


class EntityResolver:
    """Entity of a file from its sidecar or the nearest manifest. Errors are raised as ValueError."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._manifests: dict[Path, dict | None] = {}

    def _manifest(self, folder: Path) -> dict | None:
        if folder not in self._manifests:
            found = None
            for name in MANIFEST_NAMES:
                p = folder / name
                if p.is_file():
                    found = _load_json(p)
                    if not isinstance(found, dict):
                        raise ValueError(f"manifest {p.name} must be a JSON object")
                    break
            self._manifests[folder] = found
        return self._manifests[folder]

    def entity(self, path: Path) -> str | None:
        for side in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
            if side != path and side.is_file():
                data = _load_json(side)
                if isinstance(data, dict) and data.get("entity") is not None:
                    return str(data["entity"])
                if isinstance(data, dict):
                    break
                raise ValueError(f"sidecar {side.name} must be a JSON object with an 'entity' key")
        folder = path.parent
        while True:
            man = self._manifest(folder)
            if man is not None:
                rel = path.relative_to(folder).as_posix()
                mapping = man.get("entities", {k: v for k, v in man.items() if k != "entity"})
                for pattern, value in mapping.items():
                    if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(path.name, pattern):
                        if isinstance(value, dict):
                            value = value.get("entity")
                        return None if value is None else str(value)
                if man.get("entity") is not None:
                    return str(man["entity"])
            if folder == self.root or self.root not in folder.parents:
                return None
            folder = folder.parent


def _load_json(p: Path) -> object:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {p.name}: {exc}") from exc
