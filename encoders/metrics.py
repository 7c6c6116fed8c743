"""Small retrieval metrics over in-memory, L2-normalised embeddings (numpy cosine)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def ranks_of_positives(queries: np.ndarray, items: np.ndarray, positives: Sequence[set[int]]) -> np.ndarray:
    """0-based rank of the best-ranked positive item for each query."""
    sims = queries @ items.T
    out = np.empty(len(queries), dtype=np.int64)
    for q, pos in enumerate(positives):
        best = max(sims[q, list(pos)])
        out[q] = int((sims[q] > best).sum())
    return out


def recall_at(ranks: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    return {f"R@{k}": round(float((ranks < k).mean()), 4) for k in ks}


def text_to_item(text_emb: np.ndarray, text_item: Sequence[int], item_emb: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Each text query has one correct item (index into item_emb)."""
    return recall_at(ranks_of_positives(text_emb, item_emb, [{i} for i in text_item]), ks)


def item_to_text(item_emb: np.ndarray, text_emb: np.ndarray, text_item: Sequence[int], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Each item query is answered by any of its texts."""
    pos: list[set[int]] = [set() for _ in range(len(item_emb))]
    for t, i in enumerate(text_item):
        pos[i].add(t)
    return recall_at(ranks_of_positives(item_emb, text_emb, pos), ks)
