"""Decoding media and embedding benchmark items and queries, with an on-disk cache.

Embeddings are cached under ~/.cache/mmrag/evals/<encoder fingerprint>/ (or $MMRAG_CACHE),
keyed by the sha256 of the file (or text) and how it was decoded, never inside the repository.
Videos are embedded per channel: the mean of `VIDEO_FRAMES` evenly spaced keyframes with the image
encoder, and the sound track (first 30 s, 16 kHz mono) with the audio encoder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm import tqdm

from mmrag.encoders import AudioClip, Encoder, config_fingerprint, l2_normalise

SAMPLE_RATE = 16_000
MAX_AUDIO_SECONDS = 30.0
VIDEO_FRAMES = 4
_HASHES: dict[str, str] = {}


def cache_root() -> Path:
    return Path(os.environ.get("MMRAG_CACHE", str(Path.home() / ".cache" / "mmrag"))) / "evals"


def file_sha256(path: str) -> str:
    if path not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _HASHES[path] = h.hexdigest()
    return _HASHES[path]


def hash_files(paths: Sequence[str]) -> dict[str, str]:
    """sha256 of every data file, and one digest over all of them under the key '*'."""
    out = {p: file_sha256(p) for p in tqdm(sorted(set(paths)), desc="hash data", unit="file", leave=False)}
    out["*"] = hashlib.sha256("".join(f"{p}:{h}\n" for p, h in sorted(out.items())).encode()).hexdigest()
    return out


def load_image(path: str) -> Any:
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGB")


def load_audio(path: str, max_seconds: float = MAX_AUDIO_SECONDS) -> AudioClip | None:
    """Mono float32 at 16 kHz via PyAV (works for FLAC and for a video's sound track); None if silent-less."""
    import av

    with av.open(path) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        got = 0
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                arr = out.to_ndarray().reshape(-1)
                chunks.append(arr)
                got += arr.size
            if got >= max_seconds * SAMPLE_RATE:
                break
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks)[: int(max_seconds * SAMPLE_RATE)] if chunks else np.zeros(0, np.float32)
    return AudioClip(samples=samples.astype(np.float32), sample_rate=SAMPLE_RATE)


def load_keyframes(path: str, n: int = VIDEO_FRAMES) -> list[Any]:
    """`n` frames at evenly spaced times (centres of n equal parts of the video)."""
    import av

    frames: list[Any] = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        duration = float(container.duration / 1e6) if container.duration else 10.0
        targets = [duration * (i + 0.5) / n for i in range(n)]
        decoded = []
        for frame in container.decode(video=0):
            t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            decoded.append(t)
            while targets and t >= targets[0]:
                frames.append(frame.to_image().convert("RGB"))
                targets.pop(0)
            if not targets:
                break
    return frames


def text_model(encoder: Encoder) -> str | None:
    """The text model behind `embed_text`, when the config names it: encoders whose text side is the
    same model (MiniLM itself, and the translators that embed queries with it) share one text cache."""
    cfg = encoder.config()
    if cfg.get("text_model"):  # the translators: MiniLM via a MiniLMEncoder of their own
        inner = getattr(encoder, "_text", None)
        return f"{cfg['text_model']}@{getattr(inner, 'max_seq_length', 256)}"
    if cfg.get("channel") == "text" and cfg.get("model") and "max_seq_length" in cfg:
        return f"{cfg['model']}@{cfg['max_seq_length']}"
    return None


class EmbeddingCache:
    """A dict of key -> vector per encoder, persisted as one .npz file."""

    def __init__(self, encoder: Encoder, kind: str) -> None:
        fp = config_fingerprint(encoder.config())
        self.path = cache_root() / f"{encoder.name}-{fp}" / f"{kind}.npz"
        if kind == "text" and text_model(encoder):
            self.path = cache_root() / f"text-{config_fingerprint({'model': text_model(encoder)})}" / "text.npz"
        self._data: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as z:
                keys, mat = z["keys"], z["vectors"]
                self._data = {str(k): mat[i] for i, k in enumerate(keys)}
        self._dirty = False

    def get_many(self, keys: Sequence[str], compute: Callable[[list[int]], np.ndarray], batch: int = 32,
                 desc: str = "embed") -> np.ndarray:
        missing = [i for i, k in enumerate(keys) if k not in self._data]
        for start in tqdm(range(0, len(missing), batch), desc=desc, unit="batch", leave=False,
                          disable=len(missing) <= batch):
            part = missing[start : start + batch]
            vecs = np.asarray(compute(part), dtype=np.float32)
            for i, v in zip(part, vecs):
                self._data[keys[i]] = v
            self._dirty = True
        if self._dirty:
            self.save()
        return np.stack([self._data[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._data)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self._data[k] for k in keys]))
        os.replace(tmp, self.path)
        self._dirty = False


def _text_key(text: str) -> str:
    return "t:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def embed_texts(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    cache = EmbeddingCache(encoder, "text")
    keys = [_text_key(t) for t in texts]
    return cache.get_many(keys, lambda idx: encoder.embed_text([texts[i] for i in idx]), batch=256,
                          desc=f"{encoder.name} text")


def embed_images(encoder: Encoder, paths: Sequence[str]) -> np.ndarray:
    cache = EmbeddingCache(encoder, "image")
    keys = ["i:" + file_sha256(p) for p in paths]
    return cache.get_many(keys, lambda idx: encoder.embed_images([load_image(paths[i]) for i in idx]),
                          desc=f"{encoder.name} images")


def _audio_batch(encoder: Encoder, paths: Sequence[str], idx: list[int]) -> np.ndarray:
    clips = [load_audio(paths[i]) for i in idx]
    out = np.full((len(idx), encoder.dim), np.nan, dtype=np.float32)
    ok = [j for j, c in enumerate(clips) if c is not None and c.samples.size > 0]
    if ok:
        out[ok] = encoder.embed_audio([clips[j] for j in ok])  # type: ignore[misc]
    return out


def embed_audio_files(encoder: Encoder, paths: Sequence[str]) -> np.ndarray:
    """One vector per file's sound (NaN rows where a file has no sound track)."""
    cache = EmbeddingCache(encoder, "audio")
    keys = [f"a{MAX_AUDIO_SECONDS:g}:" + file_sha256(p) for p in paths]
    return cache.get_many(keys, lambda idx: _audio_batch(encoder, paths, idx), batch=8,
                          desc=f"{encoder.name} audio")


def embed_video_frames(encoder: Encoder, paths: Sequence[str]) -> np.ndarray:
    """Mean of the keyframes' embeddings, re-normalised."""
    cache = EmbeddingCache(encoder, "keyframes")
    keys = [f"v{VIDEO_FRAMES}:" + file_sha256(p) for p in paths]

    def compute(idx: list[int]) -> np.ndarray:
        rows = []
        for i in idx:
            frames = load_keyframes(paths[i])
            rows.append(l2_normalise(encoder.embed_images(frames).mean(axis=0))[0] if frames
                        else np.full(encoder.dim, np.nan, np.float32))
        return np.stack(rows)

    return cache.get_many(keys, compute, batch=4, desc=f"{encoder.name} keyframes")
