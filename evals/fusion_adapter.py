"""Adapts the graph's fusion strategies (mmrag.graph.fusion.fuse) to the evaluation harness.

The harness's per-modality lists of (item id, cosine) become `Hit`s, one list per modality, and the
graph's `fuse()` ranks them; its trained MoE gate gives the per-modality weights reported per query
type. Raises ImportError when the graph's fusion module is not available.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mmrag.schemas import Hit

try:
    from mmrag.graph import fusion as gf
except Exception as exc:  # noqa: BLE001 - any failure means: no graph strategies
    raise ImportError(f"mmrag.graph.fusion unavailable: {exc}") from exc

Lists = dict[str, list[tuple[str, float]]]
_CHANNEL = {"text": "text", "image": "image", "audio": "audio", "video": "image"}


def to_hits(lists: Lists) -> dict[str, list[Hit]]:
    return {m: [Hit(id=i, modality=m, channel=_CHANNEL[m], kind="item", score=s, rank=r, source=i)  # type: ignore[arg-type]
                for r, (i, s) in enumerate(hits, start=1)] for m, hits in lists.items()}


def _strategy(name: str, **kwargs: object) -> Callable[[Lists, np.ndarray | None], list[tuple[str, float]]]:
    def run(lists: Lists, qvec: np.ndarray | None) -> list[tuple[str, float]]:
        fused = gf.fuse(to_hits(lists), name, query_embedding=qvec, **kwargs)  # type: ignore[arg-type]
        return [(f.id, float(f.score)) for f in fused]

    return run


def strategies() -> dict[str, Callable[[Lists, np.ndarray | None], list[tuple[str, float]]]]:
    out = {
        "score-minmax": _strategy("score", normalisation="minmax"),
        "score-zscore": _strategy("score", normalisation="zscore"),
        "rrf": _strategy("rrf"),
    }
    try:
        from mmrag.graph import fusion_nets

        fusion_nets.load("moe_gate")
        out["moe"] = _strategy("moe")
        fusion_nets.load("attention_fusion")
        out["attention"] = _strategy("attention")
    except Exception:  # noqa: BLE001 - untrained nets: those strategies are reported as missing
        pass
    return out


def gate_weights() -> Callable[[np.ndarray], dict[str, float]] | None:
    """Query embedding -> the trained MoE gate's weight per modality (None when untrained)."""
    try:
        import torch

        from mmrag.graph import fusion_nets

        gate = fusion_nets.load("moe_gate")[0]
    except Exception:  # noqa: BLE001
        return None

    def weights(qvec: np.ndarray) -> dict[str, float]:
        with torch.no_grad():
            g = gate(torch.as_tensor(np.asarray(qvec, dtype=np.float32)).reshape(1, -1))[0].tolist()
        return dict(zip(fusion_nets.MODS, (float(x) for x in g)))

    return weights
