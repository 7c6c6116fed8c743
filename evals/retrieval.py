"""Per-modality retrieval evaluation: encoders over a benchmark, in memory (numpy cosine).

Items are embedded into "collections" that mirror the store's (modality, channel) collections:
`text-text`, `image-image`, `audio-audio`, `video-image` (mean keyframe), `video-audio` (sound track),
plus `text-image` / `text-audio` (text items in the image / audio encoder's space, for image->text
and audio->class). A query searches the collections its modality can be compared with; a video's
score is the mean over its channels (keyframes, sound), as the store's retriever scores it.
"""

from __future__ import annotations

import time
from typing import Mapping

import numpy as np
from pydantic import BaseModel, Field

from mmrag.encoders import Encoder, EncoderError, available, get_encoder
from mmrag.errors import UserError
from mmrag.schemas import Channel

from . import embed as E
from .data import Benchmark, Query
from .metrics import Figure, aggregate, first_relevant_rank, per_query, recall_curve

DEFAULT_ENCODERS: dict[Channel, str] = {"text": "minilm", "image": "effnet-translator", "audio": "whisper-translator"}
TOP = 50
# (item modality, channel space) per query modality
QUERY_COLLECTIONS: dict[str, tuple[str, ...]] = {
    "text": ("text-text", "image-image", "audio-audio", "video-image", "video-audio"),
    "image": ("image-image", "video-image", "text-image"),
    "audio": ("audio-audio", "video-audio", "text-audio"),
}


def parse_encoders(spec: str | None) -> dict[Channel, str]:
    """'image=hash-image,audio=hash-audio' over the defaults."""
    out = dict(DEFAULT_ENCODERS)
    for part in filter(None, (spec or "").split(",")):
        ch, _, name = part.partition("=")
        if ch.strip() not in ("text", "image", "audio") or not name.strip():
            raise UserError(f"bad --encoders entry {part!r}; expected channel=name, e.g. image=hash-image")
        out[ch.strip()] = name.strip()  # type: ignore[index]
    for ch, name in out.items():
        if name not in available():
            raise UserError(f"encoder {name!r} for {ch} is not registered; available: {', '.join(available())}")
    return out


class Index:
    """Item and query embeddings of one benchmark, per collection, computed lazily."""

    def __init__(self, bench: Benchmark, encoders: Mapping[Channel, str | Encoder]) -> None:
        self.bench = bench
        self.encoders: dict[str, Encoder] = {
            ch: (get_encoder(e) if isinstance(e, str) else e) for ch, e in encoders.items()}
        self.items_by_mod: dict[str, list[int]] = {}
        for i, it in enumerate(bench.items):
            self.items_by_mod.setdefault(it.modality, []).append(i)
        self._items: dict[str, np.ndarray] = {}
        self._queries: dict[tuple[str, str], np.ndarray] = {}
        self._qpos: dict[str, dict[str, int]] = {}
        self.seconds: dict[str, float] = {}

    def item_ids(self, coll: str) -> list[str]:
        return [self.bench.items[i].id for i in self.items_by_mod.get(coll.split("-")[0], [])]

    def item_matrix(self, coll: str) -> np.ndarray:
        if coll not in self._items:
            mod, space = coll.split("-")
            idx = self.items_by_mod.get(mod, [])
            items = [self.bench.items[i] for i in idx]
            enc = self.encoders[space]
            t0 = time.perf_counter()
            if not items:
                mat = np.zeros((0, enc.dim), np.float32)
            elif mod == "text":
                mat = E.embed_texts(enc, [it.text or "" for it in items])
            elif mod == "image":
                mat = E.embed_images(enc, [it.path or "" for it in items])
            elif mod == "audio" or (mod == "video" and space == "audio"):
                mat = E.embed_audio_files(enc, [it.path or "" for it in items])
            else:
                mat = E.embed_video_frames(enc, [it.path or "" for it in items])
            self.seconds[f"embed {coll}"] = time.perf_counter() - t0
            self._items[coll] = mat
        return self._items[coll]

    def query_matrix(self, modality: str, space: str, queries: list[Query]) -> np.ndarray:
        key = (modality, space)
        if key not in self._queries:
            qs = [q for q in self.bench.queries if q.modality == modality]
            enc = self.encoders[space]
            t0 = time.perf_counter()
            if modality == "text":
                mat = E.embed_texts(enc, [q.text or "" for q in qs])
            elif modality == "image":
                mat = E.embed_images(enc, [q.path or "" for q in qs])
            else:
                mat = E.embed_audio_files(enc, [q.path or "" for q in qs])
            self.seconds[f"queries {modality}@{space}"] = time.perf_counter() - t0
            self._queries[key] = mat
            self._qpos[modality] = {q.id: i for i, q in enumerate(qs)}
        pos = self._qpos[modality]
        return self._queries[key][[pos[q.id] for q in queries]]

    def scores(self, coll: str, queries: list[Query]) -> np.ndarray:
        """Cosine similarities (n queries, n items of the collection); -inf where an item has no vector."""
        items = self.item_matrix(coll)
        space = coll.split("-")[1]
        qmat = self.query_matrix(queries[0].modality, space, queries)
        sims = np.nan_to_num(qmat @ np.nan_to_num(items, nan=0.0).T, nan=-np.inf)
        sims[:, np.isnan(items).any(axis=1)] = -np.inf
        return sims

    def collections_for(self, query_modality: str, target: str | None) -> list[str]:
        out = []
        for coll in QUERY_COLLECTIONS[query_modality]:
            if coll.split("-")[0] in self.items_by_mod and (target is None or coll.startswith(target + "-")):
                out.append(coll)
        return out


class TypeResult(BaseModel):
    """Figures for one query type (or one strategy on it)."""

    queries: int
    figures: dict[str, Figure]
    curve: list[float] = Field(description="recall@k for k = 1..50")
    first_ranks: list[int | None] = Field(default_factory=list, exclude=True)
    per_query: list[dict[str, float]] = Field(default_factory=list, exclude=True)


def summarise(rankings: list[list[str]], queries: list[Query]) -> TypeResult:
    rows = [per_query(r, q.relevant) for r, q in zip(rankings, queries)]
    firsts = [first_relevant_rank(r, q.relevant) for r, q in zip(rankings, queries)]
    return TypeResult(queries=len(queries), figures=aggregate(rows), curve=recall_curve(firsts),
                      first_ranks=firsts, per_query=rows)


class RetrievalResult(BaseModel):
    bench: str
    split: str
    encoders: dict[str, dict]
    types: dict[str, TypeResult]
    seconds: dict[str, float]


def combine_collections(stack: np.ndarray) -> np.ndarray:
    """(channels, queries, items) -> (queries, items): the mean over the channels an item has (a
    video's keyframes and sound), shifted per query so the top item scores its best channel, as
    `tools.retrieval.merge_by_item` scores a video; -inf where an item has none."""
    have = np.isfinite(stack)
    n = have.sum(axis=0)
    total = np.where(have, stack, 0.0).sum(axis=0)
    mean = np.where(n > 0, total / np.maximum(n, 1), -np.inf)
    # per query, shifted so the top item scores its best channel (the retriever's scale, see merge_by_item)
    top = np.argmax(mean, axis=1)
    rows = np.arange(mean.shape[0])
    best = np.where(have, stack, -np.inf).max(axis=0)
    shift = np.where(np.isfinite(mean[rows, top]), best[rows, top] - mean[rows, top], 0.0)
    return mean + shift[:, None]


def rank_per_modality(index: Index, queries: list[Query]) -> list[list[str]]:
    """Full rankings over each query's target modality (mean over a video's channels)."""
    q0 = queries[0]
    colls = index.collections_for(q0.modality, q0.target)
    if not colls:
        raise EncoderError(f"nothing to search for {q0.type}")
    combined = combine_collections(np.stack([index.scores(c, queries) for c in colls]))
    ids = index.item_ids(colls[0])
    order = np.argsort(-combined, axis=1, kind="stable")
    return [[ids[j] for j in row] for row in order]


def run_retrieval(bench: Benchmark, encoders: Mapping[Channel, str | Encoder], limit: int | None = None) -> RetrievalResult:
    """Every query type of a per-modality benchmark (not 'mixed': see evals/fusion.py)."""
    if bench.name == "mixed":
        raise UserError("the mixed benchmark is evaluated by `mmrag eval fusion --bench mixed`")
    index = Index(bench, encoders)
    types: dict[str, TypeResult] = {}
    by_type: dict[str, list[Query]] = {}
    for q in bench.queries:
        by_type.setdefault(q.type, []).append(q)
    for qtype, qs in by_type.items():
        qs = qs[:limit] if limit else qs
        types[qtype] = summarise(rank_per_modality(index, qs), qs)
    return RetrievalResult(bench=bench.name, split=bench.split,
                           encoders={ch: e.config() for ch, e in index.encoders.items()},
                           types=types, seconds=index.seconds)
