"""Reports: a printed table, report.md, metrics.json, details.json and PNG plots in --report DIR.

metrics.json maps each query type ("text->image", "audio->video", "mixed", "mixed:text->video")
to {"recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"} as fractions, or, where several
strategies are compared, to {strategy: {...}}. details.json adds the 95% intervals, the encoders'
configs, the sha256 of every data file read, and timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .metrics import METRIC_NAMES, Figure

# Published numbers from ../shared/data/README.md, measured elsewhere (percent).
REFERENCES: dict[tuple[str, str], list[str]] = {
    ("flickr8k", "text->image"): ["CLIP ViT-B/32 zero-shot, Flickr8k test: R@5 80.5",
                                  "CLIP ViT-B/32, Flickr30k 1k: R@1/5/10 58.8/83.6/90.0"],
    ("flickr8k", "image->text"): ["CLIP ViT-B/32 zero-shot, Flickr8k test: R@5 91.4"],
    ("esc50", "audio->class"): ["LAION-CLAP 630k-audioset, ESC-50 fold 1 zero-shot top-1: 92.8"],
    ("audiocaps", "text->audio"): ["LAION-CLAP unfused, AudioCaps test (~900 clips) R@1: 33.4"],
}


def figures_json(figs: Mapping[str, Figure]) -> dict[str, float]:
    return {m: round(figs[m].value, 4) for m in METRIC_NAMES if m in figs}


def _cell(f: Figure) -> str:
    return f"{100 * f.value:.1f} [{100 * f.low:.1f}, {100 * f.high:.1f}]"


def table(rows: list[tuple[str, int, Mapping[str, Figure]]], first: str = "query type") -> str:
    """A markdown table: one row per (name, n, figures), values in percent with 95% intervals."""
    head = f"| {first} | n | " + " | ".join(METRIC_NAMES) + " |"
    lines = [head, "|" + " --- |" * (len(METRIC_NAMES) + 2)]
    for name, n, figs in rows:
        lines.append(f"| {name} | {n} | " + " | ".join(_cell(figs[m]) for m in METRIC_NAMES) + " |")
    return "\n".join(lines)


def _hash_block(hashes: Mapping[str, str], max_lines: int = 12) -> str:
    items = [(p, h) for p, h in sorted(hashes.items()) if p != "*"]
    lines = [f"All {len(items)} data files: sha256 of the sorted (path, sha256) list = `{hashes.get('*', '')}`",
             "(every file's sha256 is in details.json). First files:", ""]
    lines += [f"- `{Path(p).name}` {h[:16]}" for p, h in items[:max_lines]]
    return "\n".join(lines)


def plot_curves(curves: Mapping[str, list[float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), [100 * c for c in curve], label=name)
    ax.set_xscale("log")
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_bars(values: Mapping[str, Mapping[str, float]], path: Path, title: str) -> None:
    """Grouped bars: one group per strategy, one bar per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(values)
    metrics = list(METRIC_NAMES)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(names)), 4.2))
    width = 0.8 / len(metrics)
    x = np.arange(len(names))
    for j, m in enumerate(metrics):
        ax.bar(x + j * width - 0.4 + width / 2, [100 * values[n].get(m, 0.0) for n in names], width, label=m)
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(bins: list[dict[str, Any]], ece: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    used = [b for b in bins if b["count"]]
    ax.bar([(b["low"] + b["high"]) / 2 for b in used], [b["accuracy"] for b in used],
           width=[b["high"] - b["low"] for b in used], alpha=0.6, edgecolor="k", label="top-1 relevant")
    ax.plot([b["confidence"] for b in used], [b["accuracy"] for b in used], "o-", color="C3", label="mean confidence")
    ax.set_xlabel("confidence")
    ax.set_ylabel("share with a relevant top-1")
    ax.set_title(f"reliability (ECE {ece:.3f})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(out_dir: str | Path, metrics: Mapping[str, Any], details: Mapping[str, Any], markdown: str) -> list[Path]:
    """Write metrics.json, details.json and report.md; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "metrics.json", out / "details.json", out / "report.md"]
    paths[0].write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    paths[1].write_text(json.dumps(details, indent=2, sort_keys=True, default=str) + "\n")
    paths[2].write_text(markdown)
    return paths


def header(title: str, bench: str, split: str, encoders: Mapping[str, Any], hashes: Mapping[str, str]) -> str:
    enc = ", ".join(f"{ch}: `{cfg.get('name', '?')}`" for ch, cfg in encoders.items())
    return (f"# {title}\n\nBenchmark `{bench}`, split `{split}`. Encoders: {enc}. Seeds fixed (bootstrap seed 0,"
            f" 1000 resamples); values in percent with 95% bootstrap intervals.\n\n{_hash_block(hashes)}\n\n")
