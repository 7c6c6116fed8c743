"""Fusion evaluation on the mixed corpus: every strategy side by side, the single-modality floor,
and routing (does the top fused item come from a gold modality?).

Each modality's retriever searches all channels of that modality (a video: keyframes and sound,
max per video) and returns its top `DEPTH` items with cosine scores, as the graph's tools do. The
strategies fuse those four lists. Strategies come from the graph (`mmrag.graph.fusion`) when it
provides them; the local reference versions below (min-max / z-score score fusion, RRF, raw cosine;
ties broken by raw cosine) are reported beside them as `local-*`, and alone when the graph is absent.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

import numpy as np
from pydantic import BaseModel

from mmrag.encoders import Encoder
from mmrag.errors import UserError
from mmrag.schemas import Channel

from .data import Benchmark, Query
from .retrieval import Index, TypeResult, combine_collections, summarise

DEPTH = 50
Lists = dict[str, list[tuple[str, float]]]  # modality -> [(item id, score)] best first
Strategy = Callable[[Lists, np.ndarray | None], list[tuple[str, float]]]


def _ranked(score: dict[str, float], raw: dict[str, float]) -> list[tuple[str, float]]:
    """Best first; ties (every list's top item gets min-max 1.0 and the same RRF share) are broken
    by the raw cosine, so that no modality wins them by its name or list order."""
    return sorted(score.items(), key=lambda kv: (-kv[1], -raw.get(kv[0], 0.0), kv[0]))


def _raw(lists: Lists) -> dict[str, float]:
    raw: dict[str, float] = {}
    for hits in lists.values():
        for item, s in hits:
            raw[item] = max(raw.get(item, -np.inf), s)
    return raw


def _normalised(lists: Lists, how: str) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for hits in lists.values():
        if not hits:
            continue
        s = np.array([h[1] for h in hits], dtype=np.float64)
        if how == "minmax":
            span = s.max() - s.min()
            z = (s - s.min()) / span if span > 0 else np.ones_like(s)
        elif how == "zscore":
            sd = s.std()
            z = (s - s.mean()) / sd if sd > 0 else np.zeros_like(s)
        else:
            z = s
        for (item, _), v in zip(hits, z):
            best[item] = max(best.get(item, -np.inf), float(v))
    return _ranked(best, _raw(lists))


def score_minmax(lists: Lists, qvec: np.ndarray | None = None) -> list[tuple[str, float]]:
    return _normalised(lists, "minmax")


def score_zscore(lists: Lists, qvec: np.ndarray | None = None) -> list[tuple[str, float]]:
    return _normalised(lists, "zscore")


def raw_cosine(lists: Lists, qvec: np.ndarray | None = None) -> list[tuple[str, float]]:
    return _normalised(lists, "raw")


def rrf(lists: Lists, qvec: np.ndarray | None = None, k: int = 60) -> list[tuple[str, float]]:
    score: dict[str, float] = {}
    for hits in lists.values():
        for rank, (item, _) in enumerate(hits, start=1):
            score[item] = score.get(item, 0.0) + 1.0 / (k + rank)
    return _ranked(score, _raw(lists))


LOCAL_STRATEGIES: dict[str, Strategy] = {
    "score-minmax": score_minmax, "score-zscore": score_zscore, "rrf": rrf, "raw-cosine": raw_cosine,
}


def graph_strategies() -> tuple[dict[str, Strategy], Callable[[np.ndarray], dict[str, float]] | None]:
    """The graph's strategies (and its MoE gate's weights) adapted to this harness, if available."""
    try:
        from . import fusion_adapter
    except ImportError:
        return {}, None
    return fusion_adapter.strategies(), fusion_adapter.gate_weights()


class FusionResult(BaseModel):
    bench: str
    split: str
    encoders: dict[str, dict]
    strategies: dict[str, dict[str, TypeResult]]  # strategy -> query type ('mixed' = all) -> result
    floor: str
    routing: dict[str, dict[str, float]]  # strategy -> query type -> share with a gold-modality top item
    gate: dict[str, dict[str, float]]  # query type -> mean gate weight per modality
    source: dict[str, str]  # strategy -> "graph" | "local"
    skipped: dict[str, str] = {}  # strategy -> why it could not run
    seconds: dict[str, float]


def modality_lists(index: Index, queries: list[Query], depth: int = DEPTH) -> list[Lists]:
    """Per query: each modality's top `depth` items (a video: mean over its channels)."""
    out: list[Lists] = [{} for _ in queries]
    by_mod: dict[str, list[str]] = {}
    for coll in index.collections_for("text", None):
        by_mod.setdefault(coll.split("-")[0], []).append(coll)
    for mod, colls in by_mod.items():
        sims = combine_collections(np.stack([index.scores(c, queries) for c in colls]))
        ids = index.item_ids(colls[0])
        top = np.argsort(-sims, axis=1, kind="stable")[:, :depth]
        for qi, row in enumerate(top):
            out[qi][mod] = [(ids[j], float(sims[qi, j])) for j in row if np.isfinite(sims[qi, j])]
    return out


def run_fusion(bench: Benchmark, encoders: Mapping[Channel, str | Encoder], limit: int | None = None,
               use_graph: bool = True) -> FusionResult:
    if bench.name != "mixed":
        raise UserError("fusion is evaluated on the mixed corpus: --bench mixed")
    queries = [q for q in bench.queries if q.modality == "text"]
    if limit:
        queries = queries[:limit]
    index = Index(bench, encoders)
    t0 = time.perf_counter()
    lists = modality_lists(index, queries)
    seconds = {"retrieve": time.perf_counter() - t0}
    qvecs = index.query_matrix("text", "text", queries)
    strategies: dict[str, Strategy] = dict(LOCAL_STRATEGIES)
    source = {name: "local" for name in strategies}
    gate_fn = None
    if use_graph:
        graph, gate_fn = graph_strategies()
        for name, fn in graph.items():
            if name in strategies:  # keep the local reference beside the graph's version
                strategies[f"local-{name}"] = strategies.pop(name)
                source[f"local-{name}"] = source.pop(name)
            strategies[name] = fn
            source[name] = "graph"
    modality_of = {it.id: it.modality for it in bench.items}
    gold_mods = [{modality_of[r] for r in q.relevant} for q in queries]
    types = sorted({q.type for q in queries})
    results: dict[str, dict[str, TypeResult]] = {}
    routing: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for name, fn in {**{f"only-{m}": None for m in sorted(lists[0]) if lists}, **strategies}.items():
        t1 = time.perf_counter()
        if fn is None:
            mod = name.removeprefix("only-")
            rankings = [[i for i, _ in ls.get(mod, [])] for ls in lists]
        else:
            try:
                rankings = [[i for i, _ in fn(ls, qv)] for ls, qv in zip(lists, qvecs)]
            except Exception as exc:  # noqa: BLE001 - e.g. a gate trained for another query encoder
                skipped[name] = f"{type(exc).__name__}: {exc}"[:300]
                continue
        seconds[name] = time.perf_counter() - t1
        results[name] = _by_type(rankings, queries, types)
        routing[name] = _routing(rankings, queries, gold_mods, modality_of, types)
    floors = [n for n in results if n.startswith("only-")]
    floor = max(floors, key=lambda n: results[n]["mixed"].figures["recall@10"].value) if floors else ""
    gate: dict[str, dict[str, float]] = {}
    if gate_fn is not None and qvecs.shape[1] == 384:
        for t in types:
            ws = [gate_fn(qv) for q, qv in zip(queries, qvecs) if q.type == t]
            gate[t] = {m: float(np.mean([w.get(m, 0.0) for w in ws])) for m in sorted({m for w in ws for m in w})}
    return FusionResult(bench=bench.name, split=bench.split,
                        encoders={ch: e.config() for ch, e in index.encoders.items()},
                        strategies=results, floor=floor, routing=routing, gate=gate, source=source, skipped=skipped,
                        seconds={**index.seconds, **seconds})


def _by_type(rankings: Sequence[list[str]], queries: list[Query], types: list[str]) -> dict[str, TypeResult]:
    out = {"mixed": summarise(list(rankings), queries)}
    for t in types:
        idx = [i for i, q in enumerate(queries) if q.type == t]
        out[f"mixed:{t}"] = summarise([rankings[i] for i in idx], [queries[i] for i in idx])
    return out


def _routing(rankings: Sequence[list[str]], queries: list[Query], gold_mods: list[set[str]],
             modality_of: dict[str, str], types: list[str]) -> dict[str, float]:
    ok = [bool(r) and modality_of[r[0]] in g for r, g in zip(rankings, gold_mods)]
    out = {"mixed": float(np.mean(ok)) if ok else 0.0}
    for t in types:
        sel = [o for o, q in zip(ok, queries) if q.type == t]
        out[f"mixed:{t}"] = float(np.mean(sel)) if sel else 0.0
    return out
