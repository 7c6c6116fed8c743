"""Encoder registry: names map to lazily imported factories; nothing heavy at import time.

    >>> from mmrag.encoders import get_encoder
    >>> enc = get_encoder("minilm")          # built, not yet loaded
    >>> enc.embed_text(["a dog barking"])    # loads the model on first use

Register another encoder with `register("name", "package.module:factory")`.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from .base import AudioClip, BaseEncoder, Encoder, EncoderError, config_fingerprint, l2_normalise

_REGISTRY: dict[str, str | Callable[..., Encoder]] = {
    "minilm": "mmrag.encoders.minilm:MiniLMEncoder",
    # offline cross-modal encoders: frozen features + trained heads into MiniLM space (weights/)
    "effnet-translator": "mmrag.encoders.translator:EffNetTranslator",
    "whisper-translator": "mmrag.encoders.translator:WhisperTranslator",
    "logmel-translator": "mmrag.encoders.translator:LogMelTranslator",
    # shared-space production encoders, for users with the weights (hub or a local path)
    "open-clip": "mmrag.encoders.open_clip_encoder:OpenClipEncoder",
    "clap": "mmrag.encoders.clap_encoder:ClapEncoder",
    # test-only, model-free
    "hash-text": "mmrag.encoders.hashing:HashEncoder",
    "hash-image": "mmrag.encoders.hashing:HashEncoder",
    "hash-audio": "mmrag.encoders.hashing:HashEncoder",
}
_DEFAULT_KWARGS: dict[str, dict[str, Any]] = {
    "hash-text": {"channel": "text"},
    "hash-image": {"channel": "image"},
    "hash-audio": {"channel": "audio"},
}


def register(name: str, factory: str | Callable[..., Encoder], **default_kwargs: Any) -> None:
    """Register an encoder factory (a callable, or 'module:attr' imported on first use)."""
    _REGISTRY[name] = factory
    if default_kwargs:
        _DEFAULT_KWARGS[name] = default_kwargs


def available() -> list[str]:
    return sorted(_REGISTRY)


def get_encoder(name: str, **kwargs: Any) -> Encoder:
    """Build (not load) the encoder registered under `name`."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise EncoderError(f"unknown encoder {name!r}; available: {', '.join(available())}") from None
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
    return factory(**{**_DEFAULT_KWARGS.get(name, {}), **kwargs})


__all__ = [
    "AudioClip",
    "BaseEncoder",
    "Encoder",
    "EncoderError",
    "available",
    "config_fingerprint",
    "get_encoder",
    "l2_normalise",
    "register",
]
