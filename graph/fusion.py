"""Fusion of per-modality hit lists into one ranking, and per-entity aggregation.

Strategies (chosen by `Context.fusion`):
- `score`: per-modality normalisation (min-max or z-score) x configurable weights, with a bias
  toward the question's dominant modality.
- `rrf`: reciprocal rank fusion, weight / (60 + rank).
- `moe`: a learned gate maps the query embedding to per-modality weights over raw similarities.
- `attention`: a learned net scores each item against the query and the other items.
Every fused item keeps what each modality contributed; `aggregate_entities` sums the best item
per modality of each entity into a composite score, keeping the parts for explanation.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np

from mmrag.graph.models import EntityScore, FusedItem
from mmrag.schemas import Hit

RRF_K = 60.0
QueryEmbedder = Callable[[str], np.ndarray]


def minmax(scores: Sequence[float]) -> list[float]:
    """(s - min) / (max - min); a single score or all-equal scores map to 1.0."""
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    if hi - lo < 1e-9:
        return [1.0 for _ in scores]
    return [(s - lo) / (hi - lo) for s in scores]


def zscore(scores: Sequence[float]) -> list[float]:
    """(s - mean) / std (population); zero spread maps to 0.0."""
    if not scores:
        return []
    arr = np.asarray(scores, dtype=np.float64)
    sd = float(arr.std())
    if sd < 1e-9:
        return [0.0 for _ in scores]
    return [float(x) for x in (arr - arr.mean()) / sd]


def modality_weights(
    modalities: Sequence[str], weights: Mapping[str, float] | None, dominant: str | None, bias: float
) -> dict[str, float]:
    w = {m: float((weights or {}).get(m, 1.0)) for m in modalities}
    if dominant in w:
        w[dominant] *= 1.0 + bias
    return w


def _item(h: Hit, score: float, contribution: float) -> FusedItem:
    return FusedItem(
        id=h.id, modality=h.modality, source=h.source, score=score, raw_score=h.score, entity=h.entity,
        contributions={h.modality: contribution}, hit=h,
    )


def _sorted(items: list[FusedItem]) -> list[FusedItem]:
    return sorted(items, key=lambda i: (-i.score, -i.raw_score, i.modality, i.id))


def score_fusion(
    hits: Mapping[str, Sequence[Hit]],
    weights: Mapping[str, float] | None = None,
    dominant: str | None = None,
    bias: float = 0.0,
    normalisation: str = "minmax",
) -> list[FusedItem]:
    norm = minmax if normalisation == "minmax" else zscore
    w = modality_weights(list(hits), weights, dominant, bias)
    out = []
    for m, hs in hits.items():
        for h, n in zip(hs, norm([h.score for h in hs])):
            out.append(_item(h, w[m] * n, w[m] * n))
    return _sorted(out)


def rrf_fusion(
    hits: Mapping[str, Sequence[Hit]], weights: Mapping[str, float] | None = None,
    dominant: str | None = None, bias: float = 0.0, k: float = RRF_K,
) -> list[FusedItem]:
    """Items found in several lists (same id) add up their reciprocal ranks."""
    w = modality_weights(list(hits), weights, dominant, bias)
    acc: dict[str, FusedItem] = {}
    for m, hs in hits.items():
        for rank, h in enumerate(sorted(hs, key=lambda x: -x.score), start=1):
            part = w[m] / (k + rank)
            if h.id in acc:
                it = acc[h.id]
                it.score += part
                it.contributions[m] = it.contributions.get(m, 0.0) + part
            else:
                acc[h.id] = _item(h, part, part)
    return _sorted(list(acc.values()))


def moe_fusion(hits: Mapping[str, Sequence[Hit]], query_embedding: np.ndarray, gate: object | None = None) -> list[FusedItem]:
    """Learned per-modality weights (from the query embedding) x raw similarities: the gate
    both picks the modalities a query needs and rescales their different score ranges."""
    import torch

    from mmrag.graph import fusion_nets

    model = gate if gate is not None else fusion_nets.load("moe_gate")[0]
    with torch.no_grad():
        g = model(torch.as_tensor(np.asarray(query_embedding, dtype=np.float32)).reshape(1, -1))[0].tolist()
    gw = dict(zip(fusion_nets.MODS, g))
    out = [_item(h, gw[m] * h.score, gw[m] * h.score) for m, hs in hits.items() for h in hs]
    return _sorted(out)


def attention_fusion(
    hits: Mapping[str, Sequence[Hit]], query_embedding: np.ndarray, dominant: str | None = None,
    model: object | None = None,
) -> list[FusedItem]:
    """A learned score per item, from its features, the query and the other items (sigmoid of the logit)."""
    import torch

    from mmrag.graph import fusion_nets

    net = model if model is not None else fusion_nets.load("attention_fusion")[0]
    items: list[Hit] = []
    feats: list[list[float]] = []
    for m, hs in hits.items():
        mm, zz = minmax([h.score for h in hs]), zscore([h.score for h in hs])
        for h, a, b in zip(hs, mm, zz):
            chans = len(str(h.metadata.get("matched_channels", h.channel)).split(","))
            feats.append(fusion_nets.item_features(h.score, a, b, h.rank, m, m == dominant, chans))
            items.append(h)
    if not items:
        return []
    with torch.no_grad():
        logits = net(
            torch.tensor([feats], dtype=torch.float32),
            torch.as_tensor(np.asarray(query_embedding, dtype=np.float32)).reshape(1, -1),
        )[0].tolist()
    out = []
    for h, lg in zip(items, logits):
        s = 1.0 / (1.0 + math.exp(-lg))
        out.append(_item(h, s, s))
    return _sorted(out)


def fuse(
    hits: Mapping[str, Sequence[Hit]],
    strategy: str = "score",
    *,
    weights: Mapping[str, float] | None = None,
    dominant: str | None = None,
    bias: float = 0.0,
    normalisation: str = "minmax",
    query_embedding: np.ndarray | None = None,
) -> list[FusedItem]:
    """Dispatch to one strategy; `moe`/`attention` need the query embedding."""
    hits = {m: list(hs) for m, hs in hits.items() if hs}
    if strategy == "score":
        return score_fusion(hits, weights, dominant, bias, normalisation)
    if strategy == "rrf":
        return rrf_fusion(hits, weights, dominant, bias)
    if strategy in ("moe", "attention"):
        if query_embedding is None:
            raise ValueError(f"{strategy} fusion needs the query embedding")
        if strategy == "moe":
            return moe_fusion(hits, query_embedding)
        return attention_fusion(hits, query_embedding, dominant)
    raise ValueError(f"unknown fusion strategy {strategy!r}")


def aggregate_entities(fused: Sequence[FusedItem]) -> list[EntityScore]:
    """Composite score per entity: the sum over modalities of its best (positive) item score."""
    ents: dict[str, EntityScore] = {}
    for it in fused:
        if not it.entity or it.score <= 0:
            continue
        e = ents.setdefault(it.entity, EntityScore(entity=it.entity, score=0.0))
        if it.score > e.contributions.get(it.modality, float("-inf")):
            e.contributions[it.modality] = it.score
            e.items[it.modality] = it.id
    for e in ents.values():
        e.score = sum(e.contributions.values())
    return sorted(ents.values(), key=lambda e: (-e.score, e.entity))
