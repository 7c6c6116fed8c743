"""Ranking and calibration metrics, with bootstrap confidence intervals.

Conventions (those of CLIP-benchmark and most cross-modal retrieval papers):
- recall@k: share of queries with at least one gold item in the top k ("R@k", a hit rate);
- MRR: mean of 1 / rank of the first gold item (0 when none was retrieved);
- nDCG@10: binary gains, DCG over the top 10 divided by the ideal DCG of min(#gold, 10) gold items;
- 95% intervals: percentile bootstrap over queries, 1000 resamples, fixed seed.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from pydantic import BaseModel

KS = (1, 5, 10)
METRIC_NAMES = ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10")
SEED = 0


def first_relevant_rank(ranking: Sequence[str], relevant: set[str] | Sequence[str]) -> int | None:
    """1-based rank of the first gold item in `ranking`, or None."""
    rel = set(relevant)
    for i, item in enumerate(ranking, start=1):
        if item in rel:
            return i
    return None


def recall_at_k(ranking: Sequence[str], relevant: Sequence[str] | set[str], k: int) -> float:
    r = first_relevant_rank(list(ranking)[:k], relevant)
    return 1.0 if r is not None else 0.0


def reciprocal_rank(ranking: Sequence[str], relevant: Sequence[str] | set[str]) -> float:
    r = first_relevant_rank(ranking, relevant)
    return 0.0 if r is None else 1.0 / r


def ndcg_at_k(ranking: Sequence[str], relevant: Sequence[str] | set[str], k: int = 10) -> float:
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, item in enumerate(list(ranking)[:k], start=1) if item in rel)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(rel), k) + 1))
    return dcg / ideal


def per_query(ranking: Sequence[str], relevant: Sequence[str] | set[str]) -> dict[str, float]:
    """Every metric for one query."""
    out = {f"recall@{k}": recall_at_k(ranking, relevant, k) for k in KS}
    out["mrr"] = reciprocal_rank(ranking, relevant)
    out["ndcg@10"] = ndcg_at_k(ranking, relevant, 10)
    return out


class Figure(BaseModel):
    value: float
    low: float
    high: float


def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, seed: int = SEED, alpha: float = 0.05) -> Figure:
    """Mean with a percentile-bootstrap (1 - alpha) interval over the per-query values."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return Figure(value=float("nan"), low=float("nan"), high=float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    means = arr[idx].mean(axis=1)
    return Figure(value=float(arr.mean()), low=float(np.quantile(means, alpha / 2)),
                  high=float(np.quantile(means, 1 - alpha / 2)))


def aggregate(rows: Sequence[dict[str, float]], n_boot: int = 1000, seed: int = SEED) -> dict[str, Figure]:
    """Mean and 95% interval of each metric over per-query rows."""
    names = list(rows[0]) if rows else list(METRIC_NAMES)
    return {m: bootstrap_ci([r[m] for r in rows], n_boot=n_boot, seed=seed) for m in names}


def recall_curve(first_ranks: Sequence[int | None], max_k: int = 50) -> list[float]:
    """recall@k for k = 1..max_k from the first-gold ranks (None = not retrieved)."""
    n = max(1, len(first_ranks))
    return [sum(1 for r in first_ranks if r is not None and r <= k) / n for k in range(1, max_k + 1)]


class ReliabilityBin(BaseModel):
    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


def reliability_bins(confidences: Sequence[float], correct: Sequence[bool | float], n_bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; the last bin includes 1.0."""
    conf = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
    acc = np.asarray(correct, dtype=np.float64)
    if conf.shape != acc.shape:
        raise ValueError("confidences and correct must have the same length")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = which == b
        cnt = int(mask.sum())
        bins.append(ReliabilityBin(low=float(edges[b]), high=float(edges[b + 1]), count=cnt,
                                   confidence=float(conf[mask].mean()) if cnt else 0.0,
                                   accuracy=float(acc[mask].mean()) if cnt else 0.0))
    return bins


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool | float], n_bins: int = 10) -> float:
    """ECE = sum over bins of (bin share) * |accuracy - mean confidence|."""
    bins = reliability_bins(confidences, correct, n_bins)
    n = sum(b.count for b in bins)
    if n == 0:
        return float("nan")
    return float(sum(b.count / n * abs(b.accuracy - b.confidence) for b in bins))


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def chance_recall(n_items: int, n_gold: int, k: int) -> float:
    """Expected recall@k of a random ranking: 1 - C(n - g, k) / C(n, k)."""
    if n_items <= 0 or n_gold <= 0:
        return 0.0
    if k >= n_items or n_items - n_gold < k:
        return 1.0
    return 1.0 - math.comb(n_items - n_gold, k) / math.comb(n_items, k)
