"""The one small encoder protocol.

An encoder owns its model, preprocessing, tokenizer, normalisation, dimension and distance space,
and serialises its config, so a collection records which encoder wrote it and refuses another.
Models are built in `warm_up()` (called lazily on first use), never at import or construction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from mmrag.schemas import Channel


@dataclass(frozen=True)
class AudioClip:
    """Mono float32 samples in [-1, 1] at `sample_rate` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        return float(len(self.samples)) / float(self.sample_rate)


class EncoderError(RuntimeError):
    """An encoder could not be built or could not embed its input."""


@runtime_checkable
class Encoder(Protocol):
    """Embeds one channel's content (and text queries) into one vector space.

    `channel` is what the encoder embeds as documents: "text", "image" or "audio".
    Every encoder also embeds text queries into the same space (`embed_text`), which is what makes
    a word query find an image or a sound. Outputs are float32, L2-normalised, shape (n, dim).
    """

    name: str
    channel: Channel
    dim: int
    space: str  # chroma distance space: "cosine"

    def warm_up(self) -> None: ...

    def config(self) -> dict[str, Any]: ...

    def embed_text(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_images(self, images: Sequence[Any]) -> np.ndarray: ...

    def embed_audio(self, clips: Sequence[AudioClip]) -> np.ndarray: ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def config_fingerprint(config: dict[str, Any]) -> str:
    """Short stable hash of an encoder config, stored on every collection it writes."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class BaseEncoder:
    """Shared plumbing: lazy warm-up, config, and 'not supported' errors."""

    name: str = "base"
    channel: Channel = "text"
    dim: int = 0
    space: str = "cosine"

    def __init__(self) -> None:
        self._warm = False

    # subclasses build their models here
    def _build(self) -> None:  # pragma: no cover - overridden
        pass

    def warm_up(self) -> None:
        if not self._warm:
            self._build()
            self._warm = True

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "channel": self.channel, "dim": self.dim, "space": self.space}

    def fingerprint(self) -> str:
        return config_fingerprint(self.config())

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        raise EncoderError(f"encoder {self.name!r} does not embed text")

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        raise EncoderError(f"encoder {self.name!r} does not embed images")

    def embed_audio(self, clips: Sequence[AudioClip]) -> np.ndarray:
        raise EncoderError(f"encoder {self.name!r} does not embed audio")

    def embed(self, items: Sequence[Any]) -> np.ndarray:
        """Embed documents of this encoder's own channel."""
        if self.channel == "text":
            return self.embed_text(items)
        if self.channel == "image":
            return self.embed_images(items)
        return self.embed_audio(items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, channel={self.channel!r}, dim={self.dim})"
