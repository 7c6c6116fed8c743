"""`mmrag eval graph`: the RAG graph over mixed-corpus questions, with the extractive generator.

A subset of the mixed corpus (every question's gold items plus distractors; `--limit N` questions
per query type, default 10) is staged as symlinks / .txt files and ingested into a real chroma store
with `mmrag.api.ingest` (OCR and transcripts off: the captions and sounds carry no text). Each
question runs through `MultimodalRAG.graph` and is scored for grounding (share of citation markers
resolving to retrieved items), citation precision / recall per modality, hops, confidence
calibration against "the top fused item is gold", per-node latency and retrievals per question.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from tqdm import tqdm

from mmrag.schemas import Channel

from . import report as R
from .data import Benchmark, Item, Query, limit_benchmark
from .embed import hash_files
from .evaluators import citation_precision, citation_recall, grounding
from .metrics import expected_calibration_error, percentile, reliability_bins

DEFAULT_LIMIT = 10


def stage(items: list[Item], root: Path) -> dict[str, str]:
    """Symlink media / write text items under `root`; return {source relative path: item id}."""
    out: dict[str, str] = {}
    for it in items:
        rel = it.id + (".txt" if it.modality == "text" else Path(it.path or "").suffix)
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            if it.modality == "text":
                dest.write_text(it.text or "", encoding="utf-8")
            else:
                os.symlink(it.path or "", dest)
        out[rel] = it.id
    return out


def _item_of(source: str, by_source: Mapping[str, str]) -> str:
    return by_source.get(source, source)


def run_graph_eval(bench: Benchmark, encoders: Mapping[Channel, str], limit: int | None = None,
                   store: str | None = None, fusion: str = "score") -> dict[str, Any]:
    from mmrag.api import MultimodalRAG, ingest

    if store is None:
        with tempfile.TemporaryDirectory(prefix="mmrag-graph-eval-") as tmp:
            return run_graph_eval(bench, encoders, limit, store=tmp, fusion=fusion)
    small = limit_benchmark(bench, limit or DEFAULT_LIMIT)
    queries = [q for q in small.queries if q.modality == "text"]
    tmp = Path(store)
    by_source = stage(small.items, tmp / "corpus")
    t0 = time.perf_counter()
    rep = ingest(tmp / "corpus", tmp / "store", encoders=dict(encoders), follow_links=True, ocr=False,
                 transcripts=False)
    ingest_s = time.perf_counter() - t0
    rag = MultimodalRAG(store=tmp / "store", encoders=dict(encoders), generator="extractive", decomposer="rules",
                        fusion=fusion)
    modality_of = {it.id: it.modality for it in small.items}
    rows: list[dict[str, Any]] = []
    for q in tqdm(queries, desc="graph questions", unit="q"):
        rows.append(_one(rag, q, by_source, modality_of))
    return _summarise(rows, queries, rep.model_dump(), ingest_s, small)


def _one(rag: Any, q: Query, by_source: Mapping[str, str], modality_of: Mapping[str, str]) -> dict[str, Any]:
    from mmrag.graph.rag import human_message

    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    t0 = time.perf_counter()
    retrievals = 0
    for update in rag.graph.stream({"messages": [human_message(q.text or "")]}, config=config,
                                   context=rag.context, stream_mode="updates"):
        retrievals += sum(1 for node in update if node.startswith("retrieve"))
    wall = time.perf_counter() - t0
    state = rag.graph.get_state(config).values
    hits = [h for hs in (state.get("hits") or {}).values() for h in hs]
    fused = state.get("fused") or []
    retrieved = {str(h.get("id")) for h in hits} | {str(f.get("id")) for f in fused}
    citations = state.get("citations") or []
    outputs = {"answer": state.get("answer", ""), "citations": citations, "retrieved": sorted(retrieved)}
    src_of = {str(h.get("id")): str(h.get("source", "")) for h in hits}
    src_of.update({str(f.get("id")): str(f.get("source", "")) for f in fused})
    src_of.update({str(c.get("id")): str(c.get("source", "")) for c in citations})
    item_of = {uid: _item_of(src, by_source) for uid, src in src_of.items()}
    ref = {"relevant": q.relevant}
    cited_mods: dict[str, list[float]] = {}
    for c in citations:
        it = item_of.get(str(c.get("id")), "")
        cited_mods.setdefault(str(c.get("modality")), []).append(float(it in q.relevant))
    top = item_of.get(str(fused[0].get("id")), "") if fused else ""
    timings = dict(state.get("timings") or {})
    return {
        "type": q.type, "grounding": grounding(outputs=outputs)["score"],
        "precision": citation_precision(outputs=outputs, reference_outputs=ref, item_of=item_of)["score"],
        "recall": citation_recall(outputs=outputs, reference_outputs=ref, item_of=item_of)["score"],
        "cited_by_modality": cited_mods, "hops": int(state.get("hops") or 0),
        "confidence": float(state.get("confidence") or 0.0), "top1_gold": float(top in q.relevant),
        "top1_modality": modality_of.get(top, ""), "timings": timings, "wall": wall,
        "retrievals": retrievals,
        "invalid": len(state.get("invalid_citations") or []),
    }


def _summarise(rows: list[dict[str, Any]], queries: list[Query], ingest_report: dict, ingest_s: float,
               bench: Benchmark) -> dict[str, Any]:
    def mean(xs: list[float]) -> float:
        xs = [x for x in xs if x is not None]
        return float(np.mean(xs)) if xs else float("nan")

    per_type: dict[str, dict[str, float]] = {}
    for t in sorted({r["type"] for r in rows}) + ["mixed"]:
        sel = [r for r in rows if t == "mixed" or r["type"] == t]
        per_type[t] = {"questions": len(sel), "grounding": mean([r["grounding"] for r in sel]),
                       "citation_precision": mean([r["precision"] for r in sel]),
                       "citation_recall": mean([r["recall"] for r in sel]),
                       "top1_gold": mean([r["top1_gold"] for r in sel]), "hops": mean([r["hops"] for r in sel]),
                       "retrievals": mean([r["retrievals"] for r in sel])}
    by_mod: dict[str, list[float]] = {}
    for r in rows:
        for m, vals in r["cited_by_modality"].items():
            by_mod.setdefault(m, []).extend(vals)
    nodes = sorted({k for r in rows for k in r["timings"]})
    latency = {n: {"p50": percentile([r["timings"][n] for r in rows if n in r["timings"]], 50),
                   "p95": percentile([r["timings"][n] for r in rows if n in r["timings"]], 95)} for n in nodes}
    latency["total (wall)"] = {"p50": percentile([r["wall"] for r in rows], 50),
                               "p95": percentile([r["wall"] for r in rows], 95)}
    conf, ok = [r["confidence"] for r in rows], [r["top1_gold"] for r in rows]
    return {"per_type": per_type, "citation_precision_by_modality": {m: mean(v) for m, v in by_mod.items()},
            "citations_by_modality": {m: len(v) for m, v in by_mod.items()},
            "hops_histogram": {str(h): sum(1 for r in rows if r["hops"] == h) for h in sorted({r["hops"] for r in rows})},
            "latency": latency, "ece": expected_calibration_error(conf, ok),
            "reliability": [b.model_dump() for b in reliability_bins(conf, ok)],
            "invalid_citations_removed": sum(r["invalid"] for r in rows),
            "ingest": {"seconds": ingest_s, "report": ingest_report}, "counts": bench.counts()}


def graph_report(bench: Benchmark, encoders: Mapping[Channel, str], out_dir: str | None,
                 limit: int | None = None) -> tuple[dict, str]:
    res = run_graph_eval(bench, encoders, limit=limit)
    hashes = hash_files(bench.files)
    md = R.header("The RAG graph on mixed-corpus questions", bench.name, bench.split,
                  {ch: {"name": n} for ch, n in encoders.items()}, hashes)
    md += f"Staged corpus: {res['counts']}; ingest {res['ingest']['seconds']:.0f} s.\n\n"
    md += "| query type | questions | grounding | citation precision | citation recall | top-1 gold | hops | retrievals |\n"
    md += "|" + " --- |" * 8 + "\n"
    for t, v in res["per_type"].items():
        md += (f"| {t} | {v['questions']} | {100 * v['grounding']:.1f} | {100 * v['citation_precision']:.1f} | "
               f"{100 * v['citation_recall']:.1f} | {100 * v['top1_gold']:.1f} | {v['hops']:.2f} | {v['retrievals']:.1f} |\n")
    md += "\nCitation precision by cited modality: " + ", ".join(
        f"{m} {100 * p:.1f}% of {res['citations_by_modality'][m]}" for m, p in res["citation_precision_by_modality"].items())
    md += f"\n\nHops: {res['hops_histogram']}. Invalid citations removed by the graph: {res['invalid_citations_removed']}."
    md += f"\n\nCalibration: ECE {res['ece']:.3f} of the graph's confidence against 'top-1 fused item is gold'.\n\n"
    md += "| node | p50 s | p95 s |\n| --- | --- | --- |\n"
    md += "".join(f"| {n} | {v['p50']:.3f} | {v['p95']:.3f} |\n" for n, v in res["latency"].items())
    metrics = {t: {k: round(v, 4) for k, v in vals.items()} for t, vals in res["per_type"].items()}
    metrics["mixed"]["ece"] = round(res["ece"], 4)
    if out_dir:
        R.write(out_dir, {f"graph:{k}": v for k, v in metrics.items()}, {**res, "data_sha256": hashes},
                md + "\n![reliability](reliability.png)\n")
        R.plot_reliability(res["reliability"], res["ece"], Path(out_dir) / "reliability.png")
    return {f"graph:{k}": v for k, v in metrics.items()}, md
