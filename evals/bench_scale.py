"""Scale benchmark: one chroma collection of N clustered vectors, HNSW recall and latency.

The vectors are clustered like real embeddings: real MiniLM embeddings of Flickr8k train captions
(384-d, the offline encoders' shared space) as centres, each vector a centre plus isotropic noise,
re-normalised. Queries are test-split caption embeddings plus noise (never a stored vector). Ground
truth is exact numpy brute force. The build runs in this process; the query phase runs in a fresh
subprocess that opens the persisted collection, so its resident memory and latencies are those of
a process serving an existing store. Without the data (or with `source="gmm"`) the centres are a
seeded Gaussian mixture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pydantic import BaseModel, Field
from tqdm import tqdm

from mmrag.evals.benchutil import dir_bytes, percentile, rss_mb

COLLECTION = "bench-scale"


class ScaleConfig(BaseModel):
    n: int = Field(100_000, description="vectors in the collection")
    dim: int = 384
    queries: int = 200
    k: int = 10
    source: str = Field("flickr8k", description="flickr8k (MiniLM caption centres) | gmm")
    noise: float = Field(0.6, description="noise norm relative to the unit centre")
    seed: int = 0
    space: str = "cosine"
    max_neighbors: int = 16
    ef_construction: int = 100
    ef_search: list[int] = Field(default_factory=lambda: [10, 20, 40, 80, 160])
    num_threads: int | None = None
    batch_size: int | None = Field(None, description="chroma hnsw batch_size (vectors buffered before indexing)")
    sync_threshold: int | None = Field(None, description="chroma hnsw sync_threshold (vectors between index saves)")
    add_batch: int = 5000
    path: str | None = Field(None, description="store directory (default: a temporary one, removed)")
    repeat: int = Field(1, description="timed passes over the queries per ef_search; medians reported")
    reuse: bool = Field(False, description="reuse a store at `path` built earlier with the same config")
    progress_out: str | None = Field(None, description="rewrite this JSON after every milestone")
    milestones: list[int] = Field(default_factory=list,
                                  description="also measure at these sizes on the way to n (partial results survive)")


def data_root() -> Path:
    return Path(os.environ.get("MMRAG_DATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "data")))


def caption_centres(dim: int, queries: int) -> tuple[np.ndarray, np.ndarray] | None:
    """MiniLM embeddings of the first caption of every train/dev image (the centres) and of the
    first `queries` test images (the query centres), cached on disk; None without the data."""
    root = data_root() / "flickr8k"
    if dim != 384 or not (root / "captions.csv").exists():
        return None
    import csv

    split = {}
    for name in ("train", "dev", "test"):
        for line in (root / "splits" / f"{name}.txt").read_text().split():
            split[line.strip()] = name
    first: dict[str, str] = {}
    with open(root / "captions.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            first.setdefault(row["image"], row["caption"])
    train = [c for img, c in sorted(first.items()) if split.get(img) in ("train", "dev")]
    test = [c for img, c in sorted(first.items()) if split.get(img) == "test"][: max(1, queries)]
    from mmrag.encoders import get_encoder
    from mmrag.evals.embed import embed_texts

    enc = get_encoder("minilm")
    return embed_texts(enc, train), embed_texts(enc, test)


def gmm_centres(dim: int, seed: int, n_centres: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 17)
    # a few broad "topics", centres scattered around them: clustered at two scales
    topics = rng.standard_normal((max(8, n_centres // 100), dim)).astype(np.float32)
    c = topics[rng.integers(0, len(topics), n_centres)] + 0.7 * rng.standard_normal((n_centres, dim)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    q = topics[rng.integers(0, len(topics), 1000)] + 0.7 * rng.standard_normal((1000, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return c, q


def noisy(centres: np.ndarray, n: int, noise: float, rng: np.random.Generator, chunk: int = 100_000) -> np.ndarray:
    """n unit vectors: a random centre each, plus Gaussian noise of expected norm `noise`."""
    dim = centres.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        x = centres[rng.integers(0, len(centres), e - s)].astype(np.float32, copy=True)
        x += rng.standard_normal((e - s, dim), dtype=np.float32) * np.float32(noise / np.sqrt(dim))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s:e] = x
    return out


def make_data(cfg: ScaleConfig) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(cfg.seed)
    cent = caption_centres(cfg.dim, cfg.queries) if cfg.source == "flickr8k" else None
    source = "flickr8k-minilm-captions+noise" if cent is not None else "gaussian-mixture"
    if cent is None:
        cent = gmm_centres(cfg.dim, cfg.seed)
    db_c, q_c = cent
    X = noisy(db_c, cfg.n, cfg.noise, rng)
    Q = noisy(q_c, cfg.queries, cfg.noise, rng)
    return X, Q, source


def exact_topk(X: np.ndarray, Q: np.ndarray, k: int, space: str = "cosine", chunk: int = 200_000) -> np.ndarray:
    """Exact top-k ids by brute force (vectors are unit length, so cosine/ip rank by dot, l2 too)."""
    best_s = np.full((len(Q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(Q), 0), dtype=np.int64)
    for s in range(0, len(X), chunk):
        sims = Q @ X[s : s + chunk].T
        kk = min(k, sims.shape[1])
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        cand_s = np.concatenate([best_s, np.take_along_axis(sims, part, 1)], axis=1)
        cand_i = np.concatenate([best_i, part + s], axis=1)
        order = np.argsort(-cand_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, order, 1), np.take_along_axis(cand_i, order, 1)
    return best_i


def hnsw_config(cfg: ScaleConfig) -> dict[str, Any]:
    h: dict[str, Any] = {"space": cfg.space, "max_neighbors": cfg.max_neighbors,
                         "ef_construction": cfg.ef_construction, "ef_search": cfg.ef_search[0]}
    for key in ("num_threads", "batch_size", "sync_threshold"):
        if getattr(cfg, key):
            h[key] = getattr(cfg, key)
    return h


def open_collection(path: Path, cfg: ScaleConfig) -> tuple[Any, Any]:
    from mmrag.stores.chroma_store import _NoDefaultEmbedding, make_client

    client = make_client(path)
    try:
        client.delete_collection(COLLECTION)
    except Exception:
        pass
    coll = client.create_collection(COLLECTION, configuration={"hnsw": hnsw_config(cfg)},
                                    embedding_function=_NoDefaultEmbedding())
    return client, coll


def add_range(client: Any, coll: Any, X: np.ndarray, start: int, stop: int, add_batch: int) -> float:
    """Add X[start:stop] (ids are row numbers); returns seconds."""
    batch = min(add_batch, client.get_max_batch_size())
    t0 = time.perf_counter()
    for s in tqdm(range(start, stop, batch), desc=f"build {start:,}-{stop:,}", unit="batch", leave=False):
        e = min(stop, s + batch)
        coll.add(ids=[str(i) for i in range(s, e)], embeddings=X[s:e])
    return time.perf_counter() - t0


def set_ef_search(coll: Any, ef: int) -> None:
    """Change ef_search of an existing collection (chroma applies it server-side before the client
    re-reads the configuration, which fails for an unregistered embedding function: harmless)."""
    try:
        coll.modify(configuration={"hnsw": {"ef_search": ef}})
    except ValueError as exc:
        if "deserialize configuration" not in str(exc):
            raise


def query_worker(path: str, work: str, ef: int) -> None:
    """Subprocess entry: set ef_search, open the persisted collection, time single queries.

    chroma reads ef_search when a process loads the index, so each ef_search value is measured in
    a fresh process (a `modify` does not reach an index already loaded in this process)."""
    from mmrag.stores.chroma_store import _NoDefaultEmbedding, make_client

    spec = json.loads(Path(work, "spec.json").read_text())
    Q = np.load(Path(work, "queries.npy"))
    truth = np.load(Path(work, "truth.npy"))
    client = make_client(path)
    set_ef_search(client.get_collection(COLLECTION, embedding_function=_NoDefaultEmbedding()), ef)
    coll = client.get_collection(COLLECTION, embedding_function=_NoDefaultEmbedding())
    t0 = time.perf_counter()
    coll.query(query_embeddings=Q[:1], n_results=spec["k"], include=[])  # loads the index
    load_s = time.perf_counter() - t0
    for q in Q[: min(20, len(Q))]:  # warm-up
        coll.query(query_embeddings=q[None], n_results=spec["k"], include=[])
    p50s, p95s, recalls = [], [], []
    for _ in range(spec["repeat"]):
        lat, hits = [], 0
        for q, gold in zip(Q, truth):
            t = time.perf_counter()
            res = coll.query(query_embeddings=q[None], n_results=spec["k"], include=[])
            lat.append((time.perf_counter() - t) * 1000)
            hits += len(set(int(i) for i in res["ids"][0]) & set(int(g) for g in gold))
        p50s.append(percentile(lat, 50))
        p95s.append(percentile(lat, 95))
        recalls.append(hits / truth.size)
    row = {"ef_search": ef, "recall@10": float(np.median(recalls)), "p50_ms": float(np.median(p50s)),
           "p95_ms": float(np.median(p95s)), "runs_p50_ms": p50s, "load_s": load_s, "serve_rss_mb": rss_mb()}
    Path(work, f"out-{ef}.json").write_text(json.dumps(row))


def serve_sweep(path: Path, work: Path, efs: Sequence[int]) -> list[dict[str, Any]]:
    code = ("import sys; from mmrag.evals.bench_scale import query_worker; "
            "query_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]))")
    rows = []
    for ef in tqdm(efs, desc="ef_search sweep", leave=False):
        subprocess.run([sys.executable, "-c", code, str(path), str(work), str(ef)], check=True)
        rows.append(json.loads((work / f"out-{ef}.json").read_text()))
    return rows


def run_scale(cfg: ScaleConfig) -> dict[str, Any]:
    t0 = time.perf_counter()
    X, Q, source = make_data(cfg)
    gen_s = time.perf_counter() - t0
    tmp_store = cfg.path is None
    path = Path(cfg.path or tempfile.mkdtemp(prefix="mmrag-scale-"))
    work = Path(tempfile.mkdtemp(prefix="mmrag-scale-work-"))
    marker = path / "bench-build.json"
    skip = {"ef_search", "repeat", "reuse", "queries", "path", "milestones", "progress_out"}
    key = cfg.model_dump(exclude=skip)
    prev = json.loads(marker.read_text()) if cfg.reuse and marker.exists() else None
    reuse = bool(prev and {k: v for k, v in prev.get("key", {}).items() if k not in skip} == key)
    sizes = [cfg.n] if reuse else sorted({m for m in cfg.milestones if 0 < m < cfg.n} | {cfg.n})
    steps: list[dict[str, Any]] = []
    np.save(work / "queries.npy", Q)
    (work / "spec.json").write_text(json.dumps({"k": cfg.k, "ef_search": cfg.ef_search, "repeat": cfg.repeat}))
    try:
        client = coll = None
        if not reuse:
            client, coll = open_collection(path, cfg)
        rss0, build_s, done = rss_mb(), 0.0, 0
        for m in sizes:
            if reuse:
                b = prev["build"]  # type: ignore[index]
            else:
                build_s += add_range(client, coll, X, done, m, cfg.add_batch)
                done = m
                b = {"build_s": build_s, "vectors_per_s": m / build_s, "count": coll.count(),  # type: ignore[union-attr]
                     "build_rss_mb": rss_mb(), "build_rss_delta_mb": rss_mb() - rss0,
                     "build_peak_rss_mb": rss_mb("VmHWM")}
                if m == cfg.n:
                    marker.write_text(json.dumps({"key": key, "build": b}))
            t0 = time.perf_counter()
            np.save(work / "truth.npy", exact_topk(X[:m], Q, cfg.k, cfg.space))
            exact_ms = (time.perf_counter() - t0) / max(1, len(Q)) * 1000
            sweep = serve_sweep(path, work, cfg.ef_search)  # fresh processes; the builder waits
            steps.append(_summary(cfg, source, m, gen_s, b, sweep, dir_bytes(path), exact_ms))
            if cfg.progress_out:
                Path(cfg.progress_out).write_text(json.dumps({**steps[-1], "milestones": steps}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if tmp_store:
            shutil.rmtree(path, ignore_errors=True)
    return {**steps[-1], "milestones": steps}


def _summary(cfg: ScaleConfig, source: str, n: int, gen_s: float, b: dict[str, Any], sweep: list[dict[str, Any]],
             disk: int, exact_ms: float) -> dict[str, Any]:
    ok = [r for r in sweep if r["recall@10"] >= 0.95]
    best = min(ok, key=lambda r: r["p50_ms"]) if ok else max(sweep, key=lambda r: r["recall@10"])
    return {
        "bench": "scale", "config": cfg.model_dump(), "data": source, "n": n, "dim": cfg.dim,
        "hnsw": hnsw_config(cfg), "generate_s": gen_s, **b, "disk_mb": disk / 2**20,
        "disk_bytes_per_vector": disk / max(1, n), "load_s": sweep[-1]["load_s"],
        "serve_rss_mb": max(r["serve_rss_mb"] for r in sweep), "exact_ms_per_query_numpy": exact_ms,
        "sweep": sweep, "best": best, "recall@10": best["recall@10"], "p50_ms": best["p50_ms"],
        "p95_ms": best["p95_ms"], "goal_met": bool(best["recall@10"] >= 0.95 and best["p50_ms"] <= 10.0),
    }


def markdown(result: dict[str, Any]) -> str:
    h = result["hnsw"]
    lines = []
    if len(result.get("milestones", [])) > 1:
        lines += ["| vectors | build s | vectors/s | disk MB | serving RSS MB | best ef_search | recall@10 | p50 ms | p95 ms |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for m in result["milestones"]:
            lines.append(f"| {m['n']:,} | {m['build_s']:.0f} | {m['vectors_per_s']:,.0f} | {m['disk_mb']:,.0f} | "
                         f"{m['serve_rss_mb']:,.0f} | {m['best']['ef_search']} | {m['recall@10']:.3f} | "
                         f"{m['p50_ms']:.2f} | {m['p95_ms']:.2f} |")
        lines.append("")
    lines += [
        f"### scale: {result['n']:,} x {result['dim']} ({result['data']}), space={h['space']}, "
        f"M={h['max_neighbors']}, ef_construction={h['ef_construction']}",
        "",
        f"build {result['build_s']:.1f} s ({result['vectors_per_s']:,.0f} vectors/s), peak RSS "
        f"{result['build_peak_rss_mb']:,.0f} MB (build delta {result['build_rss_delta_mb']:,.0f} MB), serving RSS "
        f"{result['serve_rss_mb']:,.0f} MB, on disk {result['disk_mb']:,.0f} MB "
        f"({result['disk_bytes_per_vector']:,.0f} B/vector), open+first query {result['load_s']:.2f} s; "
        f"exact numpy search {result['exact_ms_per_query_numpy']:.1f} ms/query (batched)",
        "",
        "| ef_search | recall@10 | p50 ms | p95 ms |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for r in result["sweep"]:
        lines.append(f"| {r['ef_search']} | {r['recall@10']:.3f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |")
    return "\n".join(lines)


def main_scale(cfg: ScaleConfig, out: str | None = None, as_json: bool = False) -> dict[str, Any]:
    res = run_scale(cfg)
    if out:
        Path(out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2) if as_json else markdown(res))
    return res


if __name__ == "__main__":  # python -m mmrag.evals.bench_scale N [OUT]
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    main_scale(ScaleConfig(n=n), out=sys.argv[2] if len(sys.argv) > 2 else None)
