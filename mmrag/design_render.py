"""Writing a `Design` out: a markdown document for people and a JSON config for the engine."""

from __future__ import annotations

import json
from pathlib import Path

from mmrag.design import Design

CONFIG_NAME = "mmrag_config.json"
DESIGN_NAME = "design.md"


def render_markdown(d: Design) -> str:
    out = [f"# Design: {d.title}", "",
           f"Domain: **{d.domain}** · results aggregate to: **{d.entity}** · risk: **{d.risk}** · designed by: {d.designer}", ""]
    out += [f"- {n}" for n in d.notes] + [""]
    out += ["## Modalities and knowledge bases", "",
            "| modality | role | channels | knowledge base | encoder pattern | encoders |", "| --- | --- | --- | --- | --- | --- |"]
    for m in d.modalities:
        enc = ", ".join(f"{c}: `{e}`" for c, e in m.encoders.items())
        out.append(f"| {m.modality} | {m.role} | {', '.join(m.channels)} | {m.knowledge_base} | {m.encoder_pattern} | {enc} |")
    out.append("")
    out += [f"- **{m.modality}** ({m.encoder_pattern}): {m.rationale}" for m in d.modalities] + [""]
    f = d.fusion
    out += ["## Fusion", "",
            f"- Strategy: `{f.strategy}` with `{f.normalisation}` normalisation"
            + (f", weights {json.dumps(f.weights)}" if f.weights else ", equal weights")
            + ("; entities ranked by composite score (best item per modality, summed)" if f.entity_composite else ""),
            f"- Metadata filters: {', '.join(f'`{x}`' for x in f.filters) if f.filters else 'none'}",
            f"- Failure mode it avoids: {f.avoids}",
            f"- Why: {f.rationale}", ""]
    g = d.generator
    out += ["## Generator and citations", "",
            f"- Generator: {g.kind}: {g.model}",
            f"- Citation format: {g.citation_format}",
            f"- Confidence threshold {g.confidence_threshold}, at most {g.max_hops} re-retrieval hops: {g.rationale}", ""]
    e = d.evaluation
    out += ["## Evaluation", "", "| modality | metrics |", "| --- | --- |"]
    out += [f"| {m} | {', '.join(ms)} |" for m, ms in e.per_modality.items()]
    out += ["", "Composite metrics:", ""] + [f"- {c}" for c in e.composite]
    out += ["", "Data:", ""] + [f"- {x}" for x in e.datasets]
    out += ["", "Gates before shipping:", ""] + [f"- {x}" for x in e.gates]
    out += ["", "## Config", "",
            f"`{CONFIG_NAME}` beside this file: its `context` block is the graph's run configuration "
            "(`mmrag.design.load_config(path)` returns a `Context`); `ingest.encoders` names the encoder per channel "
            "for `mmrag ingest`.", ""]
    return "\n".join(out)


def write_design(d: Design, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, cfg = out_dir / DESIGN_NAME, out_dir / CONFIG_NAME
    md.write_text(render_markdown(d), encoding="utf-8")
    cfg.write_text(json.dumps(d.config(), indent=2) + "\n", encoding="utf-8")
    return md, cfg
