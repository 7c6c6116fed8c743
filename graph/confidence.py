"""Calibrated confidence that the fused evidence answers the question.

Four signals, each in [0, 1]:
- `top`: the raw similarity of the best fused item (clipped to [0, 1]),
- `margin`: how far the best item's fused score is ahead of the second (relative),
- `agreement`: across the modalities searched, the fraction whose top item backs the same entity
  as the best item (or, without entities, whose own top similarity is at least half the best),
- `coverage`: the fraction of the question's needs (sub-queries, or the stand-ins a reformulation
  added for them) for which some sub-query found an item above `min_score`.
They are combined by a logistic model, p = sigmoid(b0 + b . signals). Hand-set coefficients are
the default; `Context.calibration="fitted"` uses those fitted by `mmrag train-fusion` (graph/weights/confidence.json, with the data they came from;
its single-sub-query training queries cannot inform `coverage`, whose weight stays the default).
The fitted ones describe the simulated MiniLM retrieval they were fitted on, not every store.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from mmrag.graph.models import FusedItem, SubQuery
from mmrag.schemas import Hit

DEFAULT_COEF = {"bias": -8.0, "top": 8.0, "margin": 1.0, "agreement": 1.0, "coverage": 4.0}
CALIBRATION = Path(__file__).with_name("weights") / "confidence.json"
MIN_SCORE = 0.1


def load_coefficients(fitted: bool = False, path: Path = CALIBRATION) -> dict[str, float]:
    """The default coefficients, or (fitted=True) those in graph/weights/confidence.json."""
    if fitted:
        if not path.exists():
            raise FileNotFoundError(f"no fitted calibration at {path}; run `mmrag train-fusion`")
        data: dict[str, Any] = json.loads(path.read_text())
        return {k: float(data["coefficients"][k]) for k in DEFAULT_COEF}
    return dict(DEFAULT_COEF)


def evidence(
    hits: Mapping[str, Sequence[Hit]], sub_queries: Sequence[SubQuery], min_score: float = MIN_SCORE
) -> dict[str, list[Hit]]:
    """Hits that count as evidence: those above `min_score`, and those found by a sub-query with
    metadata filters (e.g. `loudness_db < -40` for "quiet"), which they passed: there the filter is
    the evidence, and a quiet room tone's low similarity to "quiet ambient sound" says nothing."""
    filtered = {sq.label() for sq in sub_queries if sq.filters}
    return {m: [h for h in hs if h.score >= min_score or h.query in filtered] for m, hs in hits.items()}


def signals(
    fused: Sequence[FusedItem],
    hits: Mapping[str, Sequence[Hit]],
    sub_queries: Sequence[SubQuery],
    best: Mapping[str, float] | None = None,
    min_score: float = MIN_SCORE,
) -> dict[str, float]:
    """The four signals. `best` maps SubQuery.key() to the best raw score its retrieval found
    (from the state); without it, hits are matched to sub-queries by their `query` label."""
    if not fused:
        return {"top": 0.0, "margin": 0.0, "agreement": 0.0, "coverage": 0.0}
    lead = fused[0]
    top = min(1.0, max(0.0, lead.raw_score))
    if len(fused) > 1:
        denom = max(abs(lead.score), 1e-9)
        margin = min(1.0, max(0.0, (lead.score - fused[1].score) / denom))
    else:
        margin = 1.0
    hits = evidence(hits, sub_queries, min_score)
    searched = [m for m, hs in hits.items() if hs]
    if not searched:
        agreement = 0.0
    elif lead.entity:
        agree = [m for m in searched if hits[m][0].entity == lead.entity]
        agreement = len(agree) / len(searched)
    else:
        agree = [m for m in searched if max(h.score for h in hits[m]) >= 0.5 * lead.raw_score]
        agreement = len(agree) / len(searched)
    needs: set[str] = set()
    met: set[str] = set()
    for sq in sub_queries:
        needs.update(sq.groups())
        if best is not None and sq.key() in best:
            ok = best[sq.key()] >= min_score or (
                bool(sq.filters) and any(h.query == sq.label() for h in hits.get(sq.modality, []))
            )
        else:
            ok = any(h.query == sq.label() for h in hits.get(sq.modality, []))
        if ok:
            met.update(sq.groups())
    coverage = len(met & needs) / len(needs) if needs else 1.0
    return {"top": top, "margin": margin, "agreement": agreement, "coverage": coverage}


def calibrate(parts: Mapping[str, float], coef: Mapping[str, float] | None = None) -> float:
    c = coef or load_coefficients()
    z = c["bias"] + sum(c[k] * parts[k] for k in ("top", "margin", "agreement", "coverage"))
    return 1.0 / (1.0 + math.exp(-z))


def confidence(
    fused: Sequence[FusedItem],
    hits: Mapping[str, Sequence[Hit]],
    sub_queries: Sequence[SubQuery],
    best: Mapping[str, float] | None = None,
    min_score: float = MIN_SCORE,
    fitted: bool = False,
) -> tuple[float, dict[str, float]]:
    parts = signals(fused, hits, sub_queries, best, min_score)
    return (calibrate(parts, load_coefficients(fitted)) if fused else 0.0), parts
