"""Deterministic, model-free encoders for unit tests (and a fallback nobody should ship).

Text: a hashed bag of words (and character trigrams), so that texts sharing words are close.
Images: a tiny colour histogram plus a hashed word bag of their OCR-free pixels' coarse layout.
Audio: loudness and spectral-band statistics. None of them understands anything; they exist so
that tests exercise real plumbing (chroma, fusion, the graph) without loading a model.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Sequence

import numpy as np

from mmrag.schemas import Channel

from .base import AudioClip, BaseEncoder, l2_normalise

_WORD = re.compile(r"[a-z0-9]+")


def _bucket(token: str, dim: int) -> tuple[int, float]:
    h = hashlib.blake2b(token.encode(), digest_size=8).digest()
    idx = int.from_bytes(h[:4], "little") % dim
    sign = 1.0 if h[4] & 1 else -1.0
    return idx, sign


class HashEncoder(BaseEncoder):
    """Hashed features for one channel, with text queries hashed into the same space."""

    def __init__(self, channel: Channel = "text", dim: int = 256) -> None:
        super().__init__()
        self.name = f"hash-{channel}"
        self.channel = channel
        self.dim = dim

    def config(self) -> dict[str, Any]:
        return {**super().config(), "kind": "hash"}

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = _WORD.findall((text or "").lower())
            for w in words:
                j, s = _bucket("w:" + w, self.dim)
                out[i, j] += s
            if not words:
                out[i, 0] = 1.0
        return l2_normalise(out)

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        for i, img in enumerate(images):
            arr = np.asarray(img.convert("RGB").resize((8, 8)), dtype=np.float32) / 255.0
            feats = arr.reshape(-1)
            out[i, : min(self.dim, feats.size)] = feats[: self.dim] - 0.5
        return l2_normalise(out)

    def embed_audio(self, clips: Sequence[AudioClip]) -> np.ndarray:
        out = np.zeros((len(clips), self.dim), dtype=np.float32)
        for i, clip in enumerate(clips):
            x = np.asarray(clip.samples, dtype=np.float32)
            if x.size == 0:
                out[i, 0] = 1.0
                continue
            spec = np.abs(np.fft.rfft(x[: 1 << 15], n=1 << 12))
            bands = np.array_split(spec, min(self.dim - 1, 64))
            feats = np.log1p(np.array([b.mean() for b in bands], dtype=np.float32))
            out[i, : feats.size] = feats - feats.mean()
            out[i, -1] = float(np.sqrt(np.mean(x**2)))
        return l2_normalise(out)
