"""The ingest benchmark's naive baseline: one item at a time through chroma's EmbeddingFunction
interface, as users of chroma's multimodal docs write it, with Whisper run as documented (30 s window)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np


class NaiveEmbeddingFunction:
    """A chroma EmbeddingFunction around one mmrag encoder, called per item as chroma's docs show."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder

    def __call__(self, input: Sequence[Any]) -> list[np.ndarray]:  # noqa: A002 - chroma's signature
        return list(self.encoder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "mmrag-naive-bench"


def naive_encoders(encoders: dict[str, Any], window: str) -> dict[str, Any]:
    """The pipeline's encoders, except a Whisper sound encoder runs Whisper's documented 30 s window."""
    from mmrag.encoders.translator import SoundTranslator

    out = dict(encoders)
    enc = encoders.get("audio")
    if isinstance(enc, SoundTranslator) and enc.extractor == "whisper":
        head_window = enc.load_head().cfg.features.get("window", "pad30")
        if (enc.window or head_window) != window:
            out["audio"] = type(enc)(enc.head_path, threads=enc.threads, batch_size=enc.batch_size, window=window)
            out["audio"].warm_up()
    return out


def run_naive(folder: Path, store_dir: Path, encoders: dict[str, Any], opts: Any, transcriber: Any) -> dict[str, Any]:
    """One item at a time: decode a file, then per unit an EmbeddingFunction call and an add."""
    from mmrag.evals.bench_ingest import _jobs
    from mmrag.stores.chroma_store import make_client
    from mmrag.stores.extract import extract

    client = make_client(store_dir)
    efs = {ch: NaiveEmbeddingFunction(enc) for ch, enc in encoders.items()}
    colls: dict[str, Any] = {}
    units = 0
    t = time.perf_counter()
    for job in _jobs(folder):
        ex = extract(job, opts, transcriber)
        for unit, payload in ex.items:
            name = f"{unit.modality}-{unit.channel}"
            if name not in colls:
                colls[name] = client.get_or_create_collection(name, configuration={"hnsw": {"space": "cosine"}})
            colls[name].add(ids=[unit.id], embeddings=efs[unit.channel]([payload]), metadatas=[unit.metadata()],
                            documents=[unit.text or ""])
            units += 1
    return {"s": time.perf_counter() - t, "units": units}
