"""`mmrag demo`: build the bundled city guide once, then answer a cross-modal question over it.

    >>> from mmrag.demo import run_demo
    >>> result = run_demo()            # ~/.cache/mmrag/demo, built on the first call only
    >>> print(result.text)             # places ranked by composite score, answer, citations

The knowledge base is `examples/city_guide/places/` (five places: reviews, photos, photographed
menus read by OCR, ambient sound of differing loudness, a spoken review transcribed by Whisper and
a short video; see `examples/city_guide/SOURCES.md`). Ingestion is `mmrag.api.ingest` (incremental:
a second run finds nothing to do); answering is `MultimodalRAG.ask`'s graph, with the extractive
generator unless an LLM endpoint is configured (MMRAG_LLM_MODEL + MMRAG_LLM_BASE_URL).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, Field

from mmrag.errors import UserError

DEFAULT_QUESTION = "find me a quiet vegan brunch with natural light"
REPO = Path(__file__).resolve().parents[1]


def city_guide_dir() -> Path:
    """The bundled places: $MMRAG_DEMO_DATA, else beside the source tree, else ./examples/..."""
    candidates = [os.environ.get("MMRAG_DEMO_DATA"), REPO / "examples/city_guide/places", Path.cwd() / "examples/city_guide/places"]
    for c in candidates:
        if c and (Path(c) / "manifest.json").is_file():
            return Path(c)
    raise UserError("the bundled city guide was not found (examples/city_guide/places); "
                    "run from a checkout of mmrag or set MMRAG_DEMO_DATA")


def default_store() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mmrag" / "demo"


class PlaceScore(BaseModel):
    entity: str
    score: float
    contributions: dict[str, float] = Field(default_factory=dict, description="Per-modality part of the score.")
    evidence: dict[str, str] = Field(default_factory=dict, description="Best item (source) per modality.")


class DemoResult(BaseModel):
    question: str
    store: str
    built: bool = Field(description="Whether this run ingested anything.")
    ingest_seconds: float
    ask_seconds: float
    places: list[PlaceScore]
    answer_json: dict[str, Any] = Field(description="Exactly what `mmrag ask --json` prints.")
    notes: list[str] = Field(default_factory=list, description="Warnings, e.g. stand-in encoders.")
    text: str = ""


FALLBACK = {"image": "hash-image", "audio": "hash-audio"}
# The demo's run configuration. The city guide is tiny (5 places, k=5 per sub-query), so every
# retrieved item is kept (no similarity floor) and per-modality min-max normalisation ranks them.
# This matters for "quiet": the loudness filter (loudness_db < -40), not a similarity, is what shows
# a room is quiet, and the one recording that passes it has a near-zero text-to-sound similarity.
DEMO_CONTEXT: dict[str, Any] = {"min_score": -1.0}


def missing_encoders() -> dict[str, str]:
    """Default encoders that cannot be configured here (e.g. translator heads not trained yet),
    with the reason; the demo then runs with model-free stand-ins for those channels."""
    from mmrag.encoders import get_encoder
    from mmrag.stores.chroma_store import DEFAULT_ENCODERS

    out = {}
    for channel, name in DEFAULT_ENCODERS.items():
        try:
            get_encoder(name).config()  # a translator checks its head weights here
        except Exception as exc:  # noqa: BLE001 - any reason makes that channel unusable
            out[channel] = f"{name}: {exc}"
    return out


def _remove_store(store: Path) -> None:
    if not (store / "chroma.sqlite3").exists() and any(store.iterdir()):
        raise UserError(f"refusing to delete {store}: it does not look like an mmrag store")
    from mmrag.tools.retrieval import clear_store_cache

    clear_store_cache()
    try:  # chroma caches one system per path; a deleted path must not be reused from the cache
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # noqa: BLE001 - older/newer chroma without it
        pass
    shutil.rmtree(store)


def build_store(store: Path, rebuild: bool = False, encoders: Mapping[str, str] | None = None,
                progress: bool = True, **ingest_opts: Any) -> tuple[bool, float]:
    """Ingest the city guide into `store` (incremental: only missing or changed files)."""
    from mmrag import api

    if rebuild and store.exists():
        _remove_store(store)
    from mmrag.stores.chroma_store import EncoderMismatch

    t0 = time.perf_counter()
    args = dict(encoders=dict(encoders) if encoders else None, progress=progress, **ingest_opts)
    try:
        report = api.ingest(city_guide_dir(), store=str(store), **args)
    except EncoderMismatch:  # the demo store was built by other encoders (e.g. retrained heads)
        _remove_store(store)
        report = api.ingest(city_guide_dir(), store=str(store), **args)
    if report.issues:
        lines = "; ".join(f"{i.path}: {i.reason}" for i in report.issues[:5])
        raise UserError(f"the demo knowledge base could not be fully built ({len(report.issues)} issue(s)): {lines}")
    return report.files_ingested > 0, time.perf_counter() - t0


def _places(state: Mapping[str, Any]) -> list[PlaceScore]:
    sources = {f["id"]: f.get("source", "") for f in state.get("fused") or []}
    return [
        PlaceScore(entity=e["entity"], score=e["score"], contributions=e.get("contributions", {}),
                   evidence={m: sources.get(i, i) for m, i in (e.get("items") or {}).items()})
        for e in state.get("entities") or []
    ]


def render(result: DemoResult) -> str:
    """The human-readable demo output: ranking with per-modality parts, answer, citations."""
    a = result.answer_json
    out = [f"Q: {result.question}", "", "Places by composite score (best normalised item per modality, summed):"]
    for i, p in enumerate(result.places, start=1):
        parts = " + ".join(f"{m} {v:.2f}" for m, v in sorted(p.contributions.items(), key=lambda kv: -kv[1]))
        out.append(f"  {i}. {p.entity:<18} {p.score:5.2f} = {parts}")
        for m, src in p.evidence.items():
            out.append(f"       {m:<5} <- {src}")
    gen = "extractive" if a.get("extractive", True) else "llm"
    out += ["", f"Answer ({gen} generator, confidence {a.get('confidence', 0):.2f}, hops {a.get('hops', 0)}):", a.get("answer", ""), "", "Citations:"]
    for c in a.get("citations", []):
        span = f" {c['start']:.1f}-{c['end']:.1f} s" if c.get("start") is not None and c.get("end") is not None else ""
        out.append(f"  {c['marker']:<18} {c['modality']:<6} {c['source']}{span}  ({c.get('entity') or '-'})")
    if a.get("invalid_citations"):
        out.append(f"  removed invalid citations: {', '.join(a['invalid_citations'])}")
    out += [f"note: {n}" for n in result.notes]
    how = "built the knowledge base" if result.built else "knowledge base already built"
    out += ["", f"{how} in {result.ingest_seconds:.1f} s; answered in {result.ask_seconds:.1f} s; store {result.store}"]
    return "\n".join(out)


def run_demo(store: str | Path | None = None, rebuild: bool = False, question: str = DEFAULT_QUESTION,
             encoders: Mapping[str, str] | None = None, progress: bool = True,
             context: Mapping[str, Any] | None = None, **ingest_opts: Any) -> DemoResult:
    """Build (first time only) and ask. `encoders` overrides the default per-channel encoders,
    `context` the graph's run configuration (`mmrag.graph.context.Context` fields)."""
    from mmrag.graph.rag import Answer, MultimodalRAG
    from mmrag.stores.chroma_store import DEFAULT_ENCODERS

    if not question.strip():
        raise UserError("empty question")
    store_path = Path(store).expanduser() if store else default_store()
    notes = []
    if encoders is None and (missing := missing_encoders()):
        if "text" in missing:
            raise UserError(f"the text encoder is unusable: {missing['text']}")
        encoders = {ch: FALLBACK[ch] if ch in missing else name for ch, name in DEFAULT_ENCODERS.items()}
        found_by = {"image": "photos are found by their OCR text only", "audio": "sounds by transcripts and loudness only"}
        notes += [f"{why} -> the model-free stand-in {FALLBACK[ch]!r} is used: {found_by[ch]}"
                  for ch, why in missing.items()]
    built, ingest_s = build_store(store_path, rebuild, encoders, progress, **ingest_opts)
    t0 = time.perf_counter()
    rag = MultimodalRAG(store=str(store_path), encoders=dict(encoders) if encoders else None,
                        **{"media_root": str(city_guide_dir()), **DEMO_CONTEXT, **(context or {})})
    thread = uuid.uuid4().hex
    answer = rag.ask(question, thread_id=thread)
    state = rag.graph.get_state({"configurable": {"thread_id": thread}}).values
    result = DemoResult(question=question, store=str(store_path), built=built, ingest_seconds=round(ingest_s, 2),
                        ask_seconds=round(time.perf_counter() - t0, 2), places=_places(state),
                        answer_json=Answer.to_json(answer), notes=notes)
    result.text = render(result)
    return result
