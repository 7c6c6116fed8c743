"""Query benchmark: `ask` latency per node and end to end, retrieval+fusion beside the raw chroma
queries it makes, throughput under concurrency (embedded and against a Chroma server), and a
check that no model is loaded while questions are answered.

Questions are human captions from the shared data: Flickr8k test captions, ESC-50 categories
("the sound of a dog"), AudioCaps and MSR-VTT captions. The generator is extractive (no LLM) and
the decomposer the rules, so the figures are the engine's own cost.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from mmrag.encoders.minilm import clear_query_cache
from mmrag.evals.benchutil import median, percentile, ratio

CHANNELS_OF = {"text": ["text"], "image": ["image", "text"], "audio": ["audio", "text"],
               "video": ["image", "audio", "text"]}


class QueryBenchConfig(BaseModel):
    data: str | None = None
    store: str | None = Field(None, description="an ingested store; default: ingest --data into a temp store")
    questions: int = 200
    repeat: int = 3
    concurrency: list[int] = Field(default_factory=lambda: [1, 2, 4, 8])
    chroma_url: str | None = None
    server: bool = True
    k: int = 10
    encoders: dict[str, str] = Field(default_factory=dict)


def data_root(cfg: QueryBenchConfig) -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(cfg.data or os.environ.get("MMRAG_DATA", str(default)))


def questions(root: Path, n: int) -> list[str]:
    """Human captions, mixed over the four datasets, deterministic order."""
    def col(path: Path, field: str) -> list[str]:
        if not path.exists():
            return []
        with open(path, newline="") as fh:
            return [row[field] for row in csv.DictReader(fh)]

    test = set((root / "flickr8k/splits/test.txt").read_text().split()) if (root / "flickr8k/splits/test.txt").exists() else set()
    flickr: list[str] = []
    seen: set[str] = set()
    if (root / "flickr8k/captions.csv").exists():
        with open(root / "flickr8k/captions.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["image"] in test and row["image"] not in seen:
                    seen.add(row["image"])
                    flickr.append(row["caption"])
    esc = sorted({f"the sound of {c.replace('_', ' ')}" for c in col(root / "esc50/esc50_fold4.csv", "category")})
    pools = [flickr, esc, col(root / "audiocaps/captions.csv", "caption"), col(root / "msrvtt/captions.csv", "sentence")]
    out: list[str] = []
    i = 0
    while len(out) < n and any(i < len(p) for p in pools):
        for p, share in zip(pools, (6, 2, 1, 1)):  # mostly photos, as the data is
            out.extend(p[i * share : (i + 1) * share])
        i += 1
    if not out:
        from mmrag.errors import UserError

        raise UserError(f"no captions found under {root} (set --data or MMRAG_DATA)")
    return (out * (n // len(out) + 1))[:n]


def build_store(cfg: QueryBenchConfig, path: Path) -> dict[str, Any]:
    from mmrag import api

    t = time.perf_counter()
    rep = api.ingest(data_root(cfg), str(path), encoders=cfg.encoders or None, ocr=False, transcripts=False, follow_links=True,
                     progress=True)
    return {"ingest_s": time.perf_counter() - t, "files": rep.files_ingested, "units": rep.units_added}


class ModelLoadCounter:
    """Counts model constructions (sentence-transformers, torch.load, safetensors) while active."""

    def __init__(self) -> None:
        self.count = 0
        self._undo: list[Any] = []

    def _wrap(self, owner: Any, attr: str) -> None:
        orig = getattr(owner, attr)

        def wrapped(*a: Any, **kw: Any) -> Any:
            self.count += 1
            return orig(*a, **kw)

        setattr(owner, attr, wrapped)
        self._undo.append((owner, attr, orig))

    def __enter__(self) -> "ModelLoadCounter":
        import safetensors.torch
        import sentence_transformers
        import torch

        self._wrap(sentence_transformers.SentenceTransformer, "__init__")
        self._wrap(torch, "load")
        self._wrap(safetensors.torch, "load_file")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, attr, orig in reversed(self._undo):
            setattr(owner, attr, orig)


def _rag(cfg: QueryBenchConfig, store: str | None, url: str | None) -> Any:
    from mmrag.api import MultimodalRAG

    return MultimodalRAG(store=store or ".mmrag", chroma_url=url, generator="extractive", decomposer="rules",
                         k=cfg.k, encoders=cfg.encoders or None)


def e2e(rag: Any, qs: list[str], repeat: int) -> dict[str, Any]:
    """Per-question wall time and per-node timings of `ask`, medians over `repeat` passes."""
    for q in qs[:3]:
        rag.ask(q)  # warm: models, index, graph
    passes = []
    nodes: dict[str, list[float]] = {}
    with ModelLoadCounter() as loads:
        for _ in range(repeat):
            clear_query_cache()  # every pass embeds its questions afresh
            lat = []
            for q in qs:
                t = time.perf_counter()
                ans = rag.ask(q)
                lat.append((time.perf_counter() - t) * 1000)
                for name, secs in ans.timings.items():
                    if isinstance(secs, (int, float)):
                        nodes.setdefault(name, []).append(secs * 1000)
            passes.append(lat)
    return {
        "p50_ms": median([percentile(p, 50) for p in passes]), "p95_ms": median([percentile(p, 95) for p in passes]),
        "runs_p50_ms": [percentile(p, 50) for p in passes],
        "nodes": {n: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95)} for n, v in sorted(nodes.items())},
        "model_loads_during_questions": loads.count,
    }


def learned_fusion_loads(rag: Any, qs: list[str]) -> dict[str, Any]:
    """Model loads while answering with the learned fusions (after one warm-up question each)."""
    out: dict[str, Any] = {}
    for fusion in ("moe", "attention"):
        try:
            rag.ask(qs[0], fusion=fusion)
        except Exception as exc:  # noqa: BLE001 - no trained fusion weights here
            out[fusion] = f"not measured: {type(exc).__name__}: {str(exc)[:80]}"
            continue
        with ModelLoadCounter() as loads:
            for q in qs[1:11]:
                rag.ask(q, fusion=fusion)
        out[fusion] = loads.count
    return out


def retrieval_vs_raw(store: Any, qs: list[str], k: int, repeat: int) -> dict[str, Any]:
    """mmrag retrieval (all modalities) + fusion vs the raw chroma queries it makes, same vectors and k.

    Query vectors are computed once beforehand for both sides, so neither includes the encoders."""
    from mmrag.graph.fusion import fuse
    from mmrag.tools.retrieval import ModalityRetriever, RetrievalInput

    existing = {(m, ch) for m, ch, _ in store.existing()}
    mods = [m for m in CHANNELS_OF if any((m, ch) in existing for ch in CHANNELS_OF[m])]
    chans = sorted({ch for m in mods for ch in CHANNELS_OF[m]})
    vecs = {ch: store.encoder(ch).embed_text(qs) for ch in chans}
    clear_query_cache()
    t = time.perf_counter()
    for q in qs[:20]:  # the cost the pre-computation hides: one question at a time, every channel
        for ch in chans:
            store.encoder(ch).embed_text([q])
    embed_ms = (time.perf_counter() - t) * 1000 / min(20, len(qs))
    index = {q: i for i, q in enumerate(qs)}

    class Fixed:
        def __init__(self, enc: Any, ch: str) -> None:
            self.enc, self.ch = enc, ch

        def embed_text(self, texts: list[str]) -> np.ndarray:
            return vecs[self.ch][[index[x] for x in texts]]

        def __getattr__(self, name: str) -> Any:
            return getattr(self.enc, name)

    real = {ch: store.encoder(ch) for ch in chans}
    retrievers = {m: ModalityRetriever(m, store) for m in mods}  # type: ignore[arg-type]
    colls = {(m, ch): store.collection(m, ch, create=False) for m in mods for ch in CHANNELS_OF[m] if (m, ch) in existing}
    mm_runs, raw_runs = [], []
    try:
        for ch in chans:
            store._encoders[ch] = Fixed(real[ch], ch)
        for _ in range(repeat):
            lat = []
            for q in qs:
                t = time.perf_counter()
                hits = {m: r.retrieve(RetrievalInput(query=q, k=k)) for m, r in retrievers.items()}
                fuse(hits, "score")
                lat.append((time.perf_counter() - t) * 1000)
            mm_runs.append(lat)
            lat = []
            for i, q in enumerate(qs):
                t = time.perf_counter()
                for (m, ch), coll in colls.items():
                    coll.query(query_embeddings=vecs[ch][i : i + 1], n_results=k * 3,
                               include=["metadatas", "documents", "distances"])
                lat.append((time.perf_counter() - t) * 1000)
            raw_runs.append(lat)
    finally:
        store._encoders.update(real)
    mm = median([percentile(r, 50) for r in mm_runs])
    raw = median([percentile(r, 50) for r in raw_runs])
    return {"retrieval_fusion_p50_ms": mm, "raw_chroma_p50_ms": raw, "overhead_vs_raw_chroma": ratio(mm, raw),
            "retrieval_fusion_p95_ms": median([percentile(r, 95) for r in mm_runs]),
            "raw_chroma_p95_ms": median([percentile(r, 95) for r in raw_runs]),
            "collections_queried": len(colls), "query_embedding_ms_all_channels": embed_ms}


def throughput(rag: Any, qs: list[str], levels: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in levels:
        lat: list[float] = []
        lock = threading.Lock()

        def one(q: str) -> None:
            t = time.perf_counter()
            rag.ask(q)
            with lock:
                lat.append((time.perf_counter() - t) * 1000)

        clear_query_cache()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(one, qs))
        secs = time.perf_counter() - t0
        rows.append({"concurrency": n, "questions_per_s": len(qs) / secs, "p50_ms": percentile(lat, 50),
                     "p95_ms": percentile(lat, 95)})
    return rows


def chroma_server(path: Path) -> Any:
    import sys

    from mmrag.llm_server import ManagedServer, free_port

    port = free_port()
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    srv = ManagedServer([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                        f"http://127.0.0.1:{port}/api/v2/heartbeat", env={"ANONYMIZED_TELEMETRY": "False"},
                        start_timeout=60, name="chroma")
    srv.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return srv


def run_query_bench(cfg: QueryBenchConfig) -> dict[str, Any]:
    from mmrag.tools.retrieval import clear_store_cache, get_store

    work = Path(tempfile.mkdtemp(prefix="mmrag-bench-query-"))
    built: dict[str, Any] = {}
    try:
        store_path = Path(cfg.store) if cfg.store else work / "store"
        if not cfg.store or not store_path.exists():
            built = build_store(cfg, store_path)
        qs = questions(data_root(cfg), cfg.questions)
        rag = _rag(cfg, str(store_path), None)
        res: dict[str, Any] = {"bench": "query", "config": cfg.model_dump(), "questions": len(qs), "built": built}
        res["embedded"] = e2e(rag, qs, cfg.repeat)
        res["model_loads_learned_fusion"] = learned_fusion_loads(rag, qs)
        store = get_store(str(store_path), None, cfg.encoders or None)
        res["stats"] = {n: c["units"] for n, c in store.stats()["collections"].items()}
        res["retrieval"] = retrieval_vs_raw(store, qs, cfg.k, cfg.repeat)
        tq = qs[: max(40, 8 * 5)]
        res["throughput_embedded"] = throughput(rag, tq, cfg.concurrency)
        url, srv = cfg.chroma_url, None
        if not url and cfg.server:
            copy = work / "server-store"
            shutil.copytree(store_path, copy)
            srv = chroma_server(copy).start()
            url = srv.url
        if url:
            try:
                clear_store_cache()
                srag = _rag(cfg, None, url)
                res["server"] = e2e(srag, qs[:50], 1)
                res["throughput_server"] = throughput(srag, tq, cfg.concurrency)
            finally:
                if srv is not None:
                    srv.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["p50_ms"] = res["embedded"]["p50_ms"]
    res["p95_ms"] = res["embedded"]["p95_ms"]
    res["overhead_vs_raw_chroma"] = res["retrieval"]["overhead_vs_raw_chroma"]
    res["goal_met"] = bool(res["p50_ms"] < 300 and res["overhead_vs_raw_chroma"] <= 1.25
                           and res["embedded"]["model_loads_during_questions"] == 0)
    return res


def markdown(res: dict[str, Any]) -> str:
    e, r = res["embedded"], res["retrieval"]
    lines = [f"### query ({res['questions']} questions, extractive generator, rules decomposer; medians of "
             f"{res['config']['repeat']} passes)", "",
             "| what | p50 ms | p95 ms |", "| --- | ---: | ---: |",
             f"| ask, end to end (embedded) | {e['p50_ms']:.1f} | {e['p95_ms']:.1f} |"]
    if "server" in res:
        lines.append(f"| ask, end to end (Chroma server) | {res['server']['p50_ms']:.1f} | {res['server']['p95_ms']:.1f} |")
    for n, v in e["nodes"].items():
        lines.append(f"| node {n} | {v['p50_ms']:.1f} | {v['p95_ms']:.1f} |")
    lines += [f"| retrieval + fusion, all modalities (vectors given) | {r['retrieval_fusion_p50_ms']:.1f} | "
              f"{r['retrieval_fusion_p95_ms']:.1f} |",
              f"| raw chroma queries, same vectors and k ({r['collections_queried']} collections) | "
              f"{r['raw_chroma_p50_ms']:.1f} | {r['raw_chroma_p95_ms']:.1f} |", "",
              f"overhead vs raw chroma: {r['overhead_vs_raw_chroma']:.2f}x; query embedding, every channel, one "
              f"question: {r['query_embedding_ms_all_channels']:.1f} ms; model loads while answering: "
              f"{e['model_loads_during_questions']} (learned fusion: {res.get('model_loads_learned_fusion')})", "",
              "| concurrency | embedded q/s | embedded p50 ms | server q/s | server p50 ms |",
              "| ---: | ---: | ---: | ---: | ---: |"]
    srv = {row["concurrency"]: row for row in res.get("throughput_server", [])}
    for row in res["throughput_embedded"]:
        s = srv.get(row["concurrency"])
        tail = f"{s['questions_per_s']:.2f} | {s['p50_ms']:.0f}" if s else "- | -"
        lines.append(f"| {row['concurrency']} | {row['questions_per_s']:.2f} | {row['p50_ms']:.0f} | {tail} |")
    return "\n".join(lines)


def main_query(cfg: QueryBenchConfig, out: str | None = None, as_json: bool = False) -> dict[str, Any]:
    res = run_query_bench(cfg)
    if out:
        Path(out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2) if as_json else markdown(res))
    return res
