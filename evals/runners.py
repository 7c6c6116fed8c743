"""Glue between the harnesses and the reports: run, hash the data, tabulate, plot, write."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from mmrag.schemas import Channel

from . import report as R
from .data import Benchmark
from .embed import hash_files
from .metrics import chance_recall


def chance_by_type(bench: Benchmark) -> dict[str, list[float]]:
    """Mean over queries of the expected recall@1/5/10 of a random ranking of the target modality."""
    n_of: dict[str, int] = {}
    for it in bench.items:
        n_of[it.modality] = n_of.get(it.modality, 0) + 1
    out: dict[str, list[list[float]]] = {}
    for q in bench.queries:
        n = n_of.get(q.target, 0) if q.target else len(bench.items)
        out.setdefault(q.type, []).append([chance_recall(n, len(q.relevant), k) for k in (1, 5, 10)])
    return {t: [sum(col) / len(rows) for col in zip(*rows)] for t, rows in out.items()}


def retrieval_report(bench: Benchmark, encoders: Mapping[Channel, str], out_dir: str | None) -> tuple[dict, str]:
    from .retrieval import run_retrieval

    res = run_retrieval(bench, encoders)
    hashes = hash_files(bench.files)
    rows = [(f"{bench.name} {t}", tr.queries, tr.figures) for t, tr in res.types.items()]
    chance = chance_by_type(bench)
    md = R.header(f"Retrieval: {bench.name}", bench.name, bench.split, res.encoders, hashes)
    md += f"Corpus: {bench.counts()}\n\n" + R.table(rows) + "\n"
    md += "\nChance (random ranking) recall@1/5/10, %: " + "; ".join(
        f"{t} " + "/".join(f"{100 * c:.1f}" for c in chance[t]) for t in res.types) + "\n"
    refs = [(t, ref) for t in res.types for ref in R.REFERENCES.get((bench.name, t), [])]
    if refs:
        md += "\nPublished reference numbers (measured elsewhere, see ../shared/data/README.md):\n\n"
        md += "\n".join(f"- {t}: {ref}" for t, ref in refs) + "\n"
    metrics = {t: R.figures_json(tr.figures) for t, tr in res.types.items()}
    details = {"bench": bench.name, "split": bench.split, "counts": bench.counts(), "encoders": res.encoders,
               "figures": {t: {m: f.model_dump() for m, f in tr.figures.items()} for t, tr in res.types.items()},
               "recall_curves": {t: tr.curve for t, tr in res.types.items()}, "chance_recall@1/5/10": chance,
               "seconds": res.seconds, "data_sha256": hashes}
    if out_dir:
        R.write(out_dir, metrics, details, md + "\n![recall@k](recall_at_k.png)\n")
        R.plot_curves({f"{bench.name} {t}": tr.curve for t, tr in res.types.items()},
                      Path(out_dir) / "recall_at_k.png", f"{bench.name} ({bench.split}): recall@k")
    return metrics, md


def fusion_report(bench: Benchmark, encoders: Mapping[Channel, str], out_dir: str | None) -> tuple[dict, str]:
    from .fusion import run_fusion

    res = run_fusion(bench, encoders)
    hashes = hash_files(bench.files)
    qtypes = list(next(iter(res.strategies.values())))
    metrics: dict[str, Any] = {t: {s: R.figures_json(by[t].figures) for s, by in res.strategies.items()}
                               for t in qtypes}
    md = R.header("Fusion on the mixed corpus", bench.name, bench.split, res.encoders, hashes)
    md += f"Corpus: {bench.counts()}\n\n"
    md += f"Single-modality floor (best `only-*` by recall@10 over all queries): `{res.floor}`.\n\n"
    for t in qtypes:
        n = next(iter(res.strategies.values()))[t].queries
        rows = [(f"{s} ({res.source.get(s, 'floor' if s == res.floor else 'single')})", n, by[t].figures) for s, by in res.strategies.items()]
        md += f"## {t}\n\n" + R.table(rows, first="strategy") + "\n\n"
    md += "## Routing: share of queries whose top fused item is in a gold modality (%)\n\n"
    md += "| strategy | " + " | ".join(qtypes) + " |\n|" + " --- |" * (len(qtypes) + 1) + "\n"
    for s, by in res.routing.items():
        md += f"| {s} | " + " | ".join(f"{100 * by[t]:.1f}" for t in qtypes) + " |\n"
    if res.gate:
        mods = sorted({m for w in res.gate.values() for m in w})
        md += "\n## MoE gate: mean weight per modality, by query type\n\n| query type | " + " | ".join(mods)
        md += " |\n|" + " --- |" * (len(mods) + 1) + "\n"
        for t, w in res.gate.items():
            md += f"| {t} | " + " | ".join(f"{w.get(m, 0.0):.3f}" for m in mods) + " |\n"
    else:
        md += "\n(No MoE gate available from mmrag.graph.fusion: gate weights not reported.)\n"
    for s, why in res.skipped.items():
        md += f"\nStrategy `{s}` could not run: {why}\n"
    details = {"bench": bench.name, "split": bench.split, "counts": bench.counts(), "encoders": res.encoders,
               "floor": res.floor, "skipped": res.skipped, "routing": res.routing, "gate": res.gate, "source": res.source,
               "figures": {s: {t: {m: f.model_dump() for m, f in tr.figures.items()} for t, tr in by.items()}
                           for s, by in res.strategies.items()},
               "seconds": res.seconds, "data_sha256": hashes}
    if out_dir:
        R.write(out_dir, metrics, details, md + "\n![fusion](fusion.png)\n\n![recall@k](recall_at_k.png)\n")
        R.plot_bars({s: metrics["mixed"][s] for s in res.strategies}, Path(out_dir) / "fusion.png",
                    "mixed corpus: fusion strategies")
        R.plot_curves({s: by["mixed"].curve for s, by in res.strategies.items()}, Path(out_dir) / "recall_at_k.png",
                      "mixed corpus: recall@k per strategy")
    return metrics, md
