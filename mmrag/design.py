"""The pipeline designer: from a product spec (markdown) to a multimodal RAG design and a config.

    >>> from mmrag.design import design_from_spec
    >>> d = design_from_spec(open("examples/specs/field_service.md").read())
    >>> d.fusion.strategy, d.config()["context"]["encoders"]

Rule-based by default (keyword analysis, `mmrag.design_rules`); LLM-backed when a chat model is
configured (`llm_model` + `llm_base_url`/key, or MMRAG_LLM_MODEL / MMRAG_LLM_BASE_URL), with the
designer skill (`prompts/designer_skill.md`) as its system prompt and the `Design` model as its
structured output. An LLM design that fails validation falls back to the rules, and says so.
The config (`Design.config()`) holds a `context` block that `mmrag.graph.context.Context` loads
(`load_config`), plus the ingestion encoders, filters and the evaluation spec.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from mmrag.design_rules import CONSTRAINTS, CUES, DOMAINS, FINE_GRAINED, KB_WORDS, MEASURE, QUERY_VERBS, has_cue, sentences
from mmrag.errors import UserError
from mmrag.schemas import Channel, Modality

CONFIG_FORMAT = "mmrag-design/1"
ENCODERS: dict[Channel, str] = {"text": "minilm", "image": "effnet-translator", "audio": "whisper-translator"}
Pattern = Literal["shared space", "translator", "model hidden states"]


class ModalityPlan(BaseModel):
    modality: Modality
    role: Literal["query", "knowledge base", "query and knowledge base"]
    channels: list[Channel] = Field(description="How items are embedded (video: image+audio+text).")
    knowledge_base: str = Field(description="What of this modality is indexed, and how it is chunked.")
    encoder_pattern: Pattern
    encoders: dict[str, str] = Field(description="Encoder name per channel (this engine's registry).")
    rationale: str


class FusionPlan(BaseModel):
    strategy: Literal["score", "rrf", "moe", "attention"]
    normalisation: Literal["minmax", "zscore"] = "minmax"
    weights: dict[str, float] = Field(default_factory=dict)
    entity_composite: bool = Field(description="Rank entities by the sum of their best item per modality.")
    filters: list[str] = Field(default_factory=list, description="Metadata filters, e.g. 'loudness_db < -40'.")
    avoids: str = Field(description="The failure mode this fusion choice avoids.")
    rationale: str


class GeneratorPlan(BaseModel):
    kind: Literal["extractive", "llm", "vlm"]
    model: str
    citation_format: str
    confidence_threshold: float = Field(ge=0.0, le=1.0)
    max_hops: int = Field(ge=0, le=5)
    rationale: str


class EvalPlan(BaseModel):
    per_modality: dict[str, list[str]]
    composite: list[str]
    datasets: list[str]
    gates: list[str] = Field(description="Acceptance thresholds before shipping.")


class Design(BaseModel):
    title: str
    domain: str
    entity: str = Field(description="What results aggregate to: place, product, machine, case.")
    risk: Literal["low", "medium", "high"]
    query_modalities: list[str]
    kb_modalities: list[Modality]
    modalities: list[ModalityPlan]
    fusion: FusionPlan
    generator: GeneratorPlan
    evaluation: EvalPlan
    notes: list[str] = Field(default_factory=list)
    designer: str = "rules"

    def config(self) -> dict[str, Any]:
        """The engine-loadable config: `context` is `mmrag.graph.context.Context` fields."""
        encoders: dict[str, str] = {}
        for m in self.modalities:
            encoders.update(m.encoders)
        context = {
            "fusion": self.fusion.strategy,
            "normalisation": self.fusion.normalisation,
            "weights": self.fusion.weights,
            "confidence_threshold": self.generator.confidence_threshold,
            "max_hops": self.generator.max_hops,
            "k": 5 if len(self.kb_modalities) > 2 else 8,
            "modalities": list(self.kb_modalities),
            "encoders": encoders,
            "decomposer": "auto",
            "generator": "extractive" if self.generator.kind == "extractive" else "auto",
        }
        return {
            "format": CONFIG_FORMAT,
            "title": self.title,
            "context": context,
            "ingest": {"encoders": encoders, "entity": self.entity, "ocr": any("text" in m.channels and m.modality == "image" for m in self.modalities)},
            "filters": self.fusion.filters,
            "entity_composite": self.fusion.entity_composite,
            "evaluation": self.evaluation.model_dump(),
            "designer": self.designer,
        }


def load_config(path: str | os.PathLike[str]) -> Any:
    """Load a designer config file into the graph's run `Context`."""
    from mmrag.graph.context import Context

    try:
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read design config {path}: {exc}") from exc
    if not isinstance(cfg, dict) or cfg.get("format") != CONFIG_FORMAT:
        raise UserError(f"{path} is not an mmrag design config (format {CONFIG_FORMAT})")
    return Context.from_any(cfg["context"])


def skill_text() -> str:
    return resources.files("mmrag.prompts").joinpath("designer_skill.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------- rule-based
def _title(spec: str) -> str:
    for line in spec.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()[:120]
    raise UserError("the spec is empty")


def analyse(spec: str) -> dict[str, Any]:
    """Which cues the spec contains, split into query-side and knowledge-base-side sentences."""
    query: set[str] = set()
    kb: set[str] = set()
    for s in sentences(spec):
        cues = {c for c, keys in CUES.items() if has_cue(s, keys)}
        if has_cue(s, KB_WORDS):
            kb |= cues
        elif has_cue(s, QUERY_VERBS):
            query |= cues
        else:
            kb |= cues
    scores = {d: len(has_cue(spec, keys)) for d, (keys, _, _) in DOMAINS.items()}
    domain = max(scores, key=lambda d: scores[d]) if max(scores.values()) else "general search"
    return {
        "query": query or {"text"},
        "kb": kb or {"text"},
        "domain": domain,
        "constraints": {w: CONSTRAINTS[w] for w in CONSTRAINTS if has_cue(spec, (w,))},
        "fine_grained": has_cue(spec, FINE_GRAINED),
    }


def _modality_plans(a: dict[str, Any]) -> list[ModalityPlan]:
    both = a["query"] | a["kb"]

    def role(*cues: str) -> Any:
        q, k = any(c in a["query"] for c in cues), any(c in a["kb"] for c in cues)
        return "query and knowledge base" if q and k else ("query" if q else "knowledge base")

    plans = [ModalityPlan(
        modality="text", role=role("text", "speech") if ({"text", "speech"} & both) else "query",
        channels=["text"], knowledge_base="documents split into ~800-character chunks; OCR and transcripts join this space",
        encoder_pattern="shared space", encoders={"text": ENCODERS["text"]},
        rationale="all-MiniLM-L6-v2 is the hub space: every other channel is mapped into it, so one text query reaches all.")]
    if {"image", "ocr"} & both:
        fine = bool(a["fine_grained"])
        plans.append(ModalityPlan(
            modality="image", role=role("image", "ocr"),
            channels=["image", "text"] if "ocr" in both else ["image"],
            knowledge_base="one unit per photo" + (", plus its OCR text (menus, labels, forms)" if "ocr" in both else ""),
            encoder_pattern="translator", encoders={"image": ENCODERS["image"]},
            rationale="frozen EfficientNet-Lite features mapped into the text space by a trained head; swap in "
            "open_clip (shared space) where CLIP weights are available" + (
                f". The spec hinges on fine visual detail ({', '.join(a['fine_grained'])}) that a caption-level "
                "translator blurs: fine-tune or use a domain shared-space model, and evaluate per attribute" if fine else ".")))
    if {"sound", "speech"} & both:
        plans.append(ModalityPlan(
            modality="audio", role=role("sound", "speech"),
            channels=["audio", "text"] if "speech" in both else ["audio"],
            knowledge_base="recordings cut into ~5 s segments with loudness (dBFS) per segment"
            + ("; speech transcribed by Whisper into timed transcript units" if "speech" in both else ""),
            encoder_pattern="model hidden states", encoders={"audio": ENCODERS["audio"]},
            rationale="Whisper tiny.en encoder hidden states, pooled and mapped into the text space; speech also "
            "goes through Whisper's decoder (a translator to text), which is far more precise than the sound embedding."))
    if "video" in both:
        plans.append(ModalityPlan(
            modality="video", role=role("video"), channels=["image", "audio", "text"],
            knowledge_base="keyframes every few seconds, the sound track in segments, and the transcript, all timed",
            encoder_pattern="translator", encoders={"image": ENCODERS["image"], "audio": ENCODERS["audio"]},
            rationale="a video is three channels; each reuses its channel's encoder so citations point at a moment."))
    return plans


def design_rules(spec: str) -> Design:
    a = analyse(spec)
    _, entity, risk = DOMAINS.get(a["domain"], ((), "document", "low"))
    plans = _modality_plans(a)
    kb = [p.modality for p in plans if p.role != "query"] or ["text"]
    media_query = sorted(c for c in a["query"] if c in ("image", "sound", "speech", "video"))
    weights = {"image": 1.5} if a["fine_grained"] and "image" in kb and risk != "high" else {}
    if len(media_query) >= 2:
        weights.update({"image": 1.0, "audio": 1.0})
    filters = sorted({f for f, _ in a["constraints"].values()})
    if risk == "high":
        fusion = FusionPlan(strategy="rrf", weights=weights, entity_composite=False, filters=filters,
                            avoids="one modality's over-confident similarity (a look-alike photo) outvoting the notes and guidelines",
                            rationale="rank-based fusion needs no score calibration across modalities and cannot be dominated by one channel's scale.")
    else:
        fusion = FusionPlan(strategy="score", weights=weights, entity_composite=True, filters=filters,
                            avoids=f"a {entity} that is excellent in one modality but fails the others winning on a single hit "
                            "(the composite sums each entity's best item per modality after min-max normalisation)",
                            rationale="per-modality min-max normalisation removes the scale gap between text-text and translated "
                            "image/audio similarities; late fusion of per-modality sub-queries avoids averaging query vectors.")
    if a["constraints"]:
        fusion.rationale += " Constraints " + ", ".join(f"'{w}' ({why})" for w, (_, why) in a["constraints"].items()) + " become metadata filters."
    strict = risk == "high"
    generator = GeneratorPlan(
        kind="vlm" if "image" in kb else "llm", model="any OpenAI-compatible chat/VLM endpoint (local: SmolLM2-135M via llama.cpp); extractive without one",
        citation_format="[n] text chunk, [img n] image, [audio n at m:ss] / [video n at m:ss] a moment; every marker checked against the evidence",
        confidence_threshold=0.7 if strict else 0.5, max_hops=2,
        rationale=("abstains below the threshold and never states a diagnosis: it proposes and cites for a clinician to confirm"
                   if strict else "answers from the fused evidence only; unsupported markers are removed by the citation checker."))
    per_mod = {"text": ["Recall@5", "nDCG@10", "MRR"]}
    datasets = ["a labelled set of 50+ real queries with relevant items and entities (the composite ground truth)"]
    if "image" in kb:
        per_mod["image"] = ["text->image Recall@1/5/10", "image->text Recall@5"] + (["CER of OCR"] if "ocr" in a["kb"] else [])
        datasets.append("flickr8k test split (text<->image proxy)")
    if "audio" in kb:
        per_mod["audio"] = ["text->audio Recall@1/5", "zero-shot top-1 over sound classes"] + (["WER of transcripts"] if "speech" in a["kb"] else [])
        datasets += ["esc50 fold 4 (zero-shot)", "audiocaps (text->audio)"]
    if "video" in kb:
        per_mod["video"] = ["text->video Recall@5", "moment accuracy of cited time (within 5 s)"]
        datasets.append("msrvtt (text->video)")
    composite = [f"{entity}-level Hit@1 and nDCG@5", "citation validity (every marker cites a retrieved item)",
                 "citation support (the cited item contains the claim)", "confidence calibration (ECE) and abstention rate",
                 "latency p50/p95"]
    gates = ["no modality's Recall@5 below a text-only baseline on the same queries", "citation validity = 100%"]
    if strict:
        gates.append("sensitivity for urgent cases >= 0.95 at the chosen abstention threshold, reviewed by clinicians")
    notes = [f"Query modalities: {', '.join(media_query + ['text'])}; knowledge base: {', '.join(kb)}."]
    notes += sorted({f"Measure, do not embed: {MEASURE[w]}." for w in MEASURE if has_cue(spec, (w if " " in w else w + "$",))})
    if len(media_query) >= 2:
        notes.append("Several media in one query: run one sub-query per medium and fuse late, never average their embeddings.")
    return Design(title=_title(spec), domain=a["domain"], entity=entity, risk=risk,
                  query_modalities=media_query + ["text"], kb_modalities=kb, modalities=plans, fusion=fusion,
                  generator=generator, evaluation=EvalPlan(per_modality=per_mod, composite=composite, datasets=datasets, gates=gates),
                  notes=notes)


# ------------------------------------------------------------------------------------- LLM
def validate(d: Design) -> None:
    """Reject designs this engine cannot run (unknown encoders, no modalities)."""
    from mmrag.encoders import available

    known = set(available()) | set(ENCODERS.values()) | {"open_clip", "clap"}
    for m in d.modalities:
        bad = [e for e in m.encoders.values() if e not in known]
        if bad:
            raise ValueError(f"unknown encoders {bad} for {m.modality}")
    if not d.modalities or not d.kb_modalities:
        raise ValueError("the design has no modalities")


def design_llm(spec: str, model: str, base_url: str | None = None, api_key: str | None = None,
               max_tokens: int = 2500) -> Design:
    from langchain_openai import ChatOpenAI

    timeout = float(os.environ.get("MMRAG_LLM_TIMEOUT") or 120)  # per attempt
    llm = ChatOpenAI(model=model, base_url=base_url, api_key=api_key or "not-needed", temperature=0, timeout=timeout,
                     max_retries=0, max_tokens=max_tokens,
                     # llama.cpp servers ignore max_completion_tokens (what langchain-openai sends): without
                     # this, a client that timed out leaves the server generating for minutes
                     extra_body={"max_tokens": max_tokens})
    system = skill_text() + "\n\nAnswer with one JSON object, a Design, filling every field. Use only encoders: " \
        + ", ".join(ENCODERS.values()) + "."
    errors = []
    # servers differ in what they accept (llama.cpp's rejects response_format json_schema): try each way
    for method in ("json_schema", "function_calling", "json_mode"):
        try:
            d = llm.with_structured_output(Design, method=method).invoke([("system", system), ("human", spec)])
        except Exception as exc:  # noqa: BLE001 - the next method, then the rules
            errors.append(f"{method}: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        if d is None:
            errors.append(f"{method}: no structured output")
            continue
        d = d if isinstance(d, Design) else Design.model_validate(d)
        validate(d)
        d.designer = f"llm ({model}, {method})"
        return d
    raise RuntimeError("; ".join(errors))


def design_from_spec(spec: str, llm_model: str | None = None, llm_base_url: str | None = None, llm_api_key: str | None = None,
                     llm_max_tokens: int = 2500) -> Design:
    """An LLM design when a model is configured (falling back to the rules on failure), else rules."""
    if not spec.strip():
        raise UserError("the spec is empty")
    model = llm_model or os.environ.get("MMRAG_LLM_MODEL")
    base = llm_base_url or os.environ.get("MMRAG_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    key = llm_api_key or os.environ.get("MMRAG_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    if model and (base or key):
        try:
            return design_llm(spec, model, base, key, max_tokens=llm_max_tokens)
        except Exception as exc:  # any failure of the model or its output: the rules still answer
            d = design_rules(spec)
            d.designer = f"rules (llm failed: {type(exc).__name__}: {str(exc)[:160]})"
            return d
    return design_rules(spec)
