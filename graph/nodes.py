"""The graph's nodes (functions returning partial state) and routers (returning Literal[...]).

Each node reads its configuration through `Runtime[Context]` and records its own seconds in
`timings`. Structured values in the state are JSON dicts (see `mmrag.graph.models`).
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Send

from mmrag.errors import UserError
from mmrag.graph import decompose as dec
from mmrag.graph.citations import check_citations, number_evidence
from mmrag.graph.confidence import confidence, evidence
from mmrag.graph.context import Context
from mmrag.graph.fusion import aggregate_entities, fuse
from mmrag.graph.generate import extractive_answer, leading_entity, llm_answer, make_chat_model, select_evidence
from mmrag.graph.evidence_guard import guard_evidence
from mmrag.validation import check_request_paths, clean_question
from mmrag.graph.models import FusedItem, SubQuery, dump
from mmrag.graph.state import RetrieveInput, State
from mmrag.schemas import Hit
from mmrag.tools.retrieval import ModalityRetriever, RetrievalInput, get_store

MAX_FUSED = 20
_IDENT = re.compile(r"\b[A-Z]{1,5}-?\d{2,6}[A-Z]?\b")


def _progress(event: dict[str, Any]) -> None:
    """Emit a "custom" stream event when running inside a graph (no-op when called directly)."""
    try:
        from langgraph.config import get_stream_writer

        get_stream_writer()(event)
    except Exception:  # noqa: BLE001 - outside a runnable context
        pass


def ctx_of(runtime: Runtime[Context] | None) -> Context:
    ctx = Context.from_any(getattr(runtime, "context", None))
    check_request_paths(ctx)  # server mode: no store/media paths from requests (mmrag.validation)
    return ctx


def _secs(t0: float) -> float:
    return round(time.perf_counter() - t0, 4)


def _hits(state: State) -> dict[str, list[Hit]]:
    return {m: [Hit.model_validate(h) for h in hs] for m, hs in (state.get("hits") or {}).items()}


def _fused(state: State) -> list[FusedItem]:
    return [FusedItem.model_validate(f) for f in state.get("fused") or []]


def _subs(state: State) -> list[SubQuery]:
    return [SubQuery.model_validate(s) for s in state.get("sub_queries") or []]


def read_question(state: State) -> tuple[str, str | None, str | None, str | None]:
    """(question, image base64, audio base64, message id) of the current turn.

    The last human message is the question unless it was already answered (its id is the
    state's `question_message_id`) and a `question` string was given instead. Media travel as
    content parts: {"type": "image_url", "image_url": {"url": "data:...;base64,..."}},
    {"type": "image"|"audio", "base64": ...} or {"type": "input_audio", "input_audio": {"data": ...}}.
    A local path is never read here (server mode)."""
    human = [m for m in state.get("messages") or [] if isinstance(m, HumanMessage)]
    last = human[-1] if human else None
    if last is None or (last.id and last.id == state.get("question_message_id") and state.get("question")):
        return state.get("question") or "", state.get("query_image"), state.get("query_audio"), state.get(
            "question_message_id")
    content = last.content
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
    texts: list[str] = []
    image = audio = None
    for p in parts:
        if isinstance(p, str):
            texts.append(p)
        elif p.get("type") == "text":
            texts.append(p.get("text", ""))
        elif p.get("type") == "image_url":
            url = p["image_url"]["url"] if isinstance(p.get("image_url"), dict) else p.get("image_url", "")
            image = url.split(",", 1)[1] if url.startswith("data:") else image
        elif p.get("type") in ("image", "audio") and p.get("base64"):
            image, audio = (p["base64"], audio) if p["type"] == "image" else (image, p["base64"])
        elif p.get("type") == "input_audio":
            audio = p["input_audio"]["data"]
    return " ".join(t for t in texts if t).strip(), image, audio, last.id


# -- nodes ---------------------------------------------------------------------------------------
def decompose(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Question -> per-modality sub-queries, dominant modality, filters (LLM or rules)."""
    t0 = time.perf_counter()
    ctx = ctx_of(runtime)
    question, image, audio, message_id = read_question(state)
    question = clean_question(question, allow_empty=bool(image or audio))  # length, Unicode, controls
    if not question and not image and not audio:
        raise UserError("empty question: send text, an image or an audio file")
    args = dict(has_image=bool(image), has_audio=bool(audio), modalities=ctx.modalities)
    used = "rules"
    if ctx.decomposer == "llm" or (ctx.decomposer == "auto" and ctx.llm_configured):
        try:
            d = dec.llm_decompose(question, make_chat_model(ctx, streaming=False), **args)
            used = "llm"
        except Exception as exc:  # noqa: BLE001 - any model failure falls back to the rules
            d = dec.rule_decompose(question, **args)
            used = f"rules (llm failed: {type(exc).__name__}: {str(exc)[:120]})"
    else:
        d = dec.rule_decompose(question, **args)
    return {
        "question": question, "query_image": image, "query_audio": audio, "question_message_id": message_id,
        "sub_queries": dump(d.sub_queries), "dominant": d.dominant, "decomposer": used,
        "hits": None, "sub_query_best": None, "fused": [], "entities": [], "hops": 0, "followed": [], "citations": [],
        "invalid_citations": [], "timings": {"__reset__": True, "decompose": _secs(t0)},
    }


def retrieve(payload: RetrieveInput, runtime: Runtime[Context]) -> dict[str, Any]:
    """One modality's branch: run its sub-queries through the modality's retriever."""
    t0 = time.perf_counter()
    ctx = ctx_of(runtime)
    modality = payload["modality"]
    store = get_store(ctx.store, ctx.chroma_url, ctx.encoders or None)
    retriever = ModalityRetriever(modality, store, local=False)  # type: ignore[arg-type]
    retriever.warm_up()  # the client and models load once per process: timed apart
    warm = _secs(t0)
    t0 = time.perf_counter()
    found: list[Hit] = []
    best: dict[str, float] = {}
    for raw in payload["sub_queries"]:
        sq = SubQuery.model_validate(raw)
        media = {"image": payload.get("query_image"), "audio": payload.get("query_audio")}.get(sq.media or "")
        req = RetrievalInput(
            query=sq.label() if not media else None, media_base64=media, media_kind=sq.media if media else None,
            k=ctx.k, filters=sq.filters, entity=sq.entity,
        )
        got = retriever.retrieve(req)
        best[sq.key()] = max([h.score for h in got], default=0.0)
        _progress({"node": "retrieve", "modality": modality, "sub_query": sq.label(), "hits": len(got)})
        found.extend(h.model_copy(update={"query": sq.label()}) for h in got)
    return {
        "hits": {modality: [h.model_dump(mode="json") for h in found]}, "sub_query_best": best,
        "timings": {f"warm_up:{modality}": warm, f"retrieve:{modality}": _secs(t0)},
    }


def _query_embedding(question: str, strategy: str) -> Any:
    from mmrag.encoders import get_encoder
    from mmrag.graph import fusion_nets

    name = "moe_gate" if strategy == "moe" else "attention_fusion"
    _, meta = fusion_nets.load(name)
    return get_encoder(meta.get("encoder", "minilm")).embed_text([question])[0]


def fuse_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Per-modality hits -> one fused ranking, and per-entity composite scores."""
    t0 = time.perf_counter()
    ctx = ctx_of(runtime)
    hits = evidence(_hits(state), _subs(state), ctx.min_score)
    q = _query_embedding(state.get("question") or "", ctx.fusion) if ctx.fusion in ("moe", "attention") else None
    fused = fuse(
        hits, ctx.fusion, weights=ctx.weights, dominant=state.get("dominant"), bias=ctx.dominant_bias,
        normalisation=ctx.normalisation, query_embedding=q,
    )[:MAX_FUSED]
    return {"fused": dump(fused), "entities": dump(aggregate_entities(fused)), "timings": {"fuse": _secs(t0)}}


def check_confidence(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    t0 = time.perf_counter()
    ctx = ctx_of(runtime)
    conf, parts = confidence(_fused(state), _hits(state), _subs(state), state.get("sub_query_best"), ctx.min_score,
                             fitted=ctx.calibration == "fitted")
    return {
        "confidence": round(conf, 4), "confidence_parts": {k: round(v, 4) for k, v in parts.items()},
        "unsure": conf < ctx.confidence_threshold, "timings": {"check_confidence": _secs(t0)},
    }


def follow_ups(fused: list[FusedItem], question: str, followed: list[str]) -> list[tuple[str, str]]:
    """(identifier, where) for part numbers / codes in the top items' OCR or transcripts that the
    question does not mention yet."""
    out: list[tuple[str, str]] = []
    for it in fused[:5]:
        for ident in _IDENT.findall(it.hit.text or ""):
            if ident not in question and ident not in followed and ident not in [o[0] for o in out]:
                out.append((ident, f"{it.hit.kind or it.modality} of {it.source}"))
    return out


def reformulate(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Low confidence: the first that applies of: follow identifiers found in the evidence's OCR or
    transcripts; relax filters that found nothing; widen to modalities not searched yet; (with an
    LLM) rewrite the sub-queries."""
    t0 = time.perf_counter()
    ctx = ctx_of(runtime)
    hop = int(state.get("hops") or 0) + 1
    question = state.get("question") or ""
    subs, hits, fused = _subs(state), _hits(state), _fused(state)
    new: list[SubQuery] = []
    followed = list(state.get("followed") or [])
    for ident, where in follow_ups(fused, question, followed):
        followed.append(ident)
        for m in ("text", "image"):
            if m in ctx.modalities:
                new.append(SubQuery(text=ident, modality=m, reason=f"follow: {ident} in {where}", hop=hop))
    kept = list(subs)
    if not new:  # relax filters that found nothing above the noise floor
        kept = []
        for sq in subs:
            if sq.filters and not any(h.query == sq.label() for h in hits.get(sq.modality, [])):
                new.append(sq.model_copy(update={"filters": [], "hop": hop, "reason": f"relaxed {sq.filters}"}))
            else:
                kept.append(sq)
    if not new:  # widen to the modalities not searched yet, standing in for the unanswered needs
        best = state.get("sub_query_best") or {}
        unmet = [g for sq in subs if best.get(sq.key(), 0.0) < ctx.min_score for g in sq.groups()]
        searched = {sq.modality for sq in subs}
        for m in ctx.modalities:
            if m not in searched and question:
                stands_for = unmet or [g for sq in subs for g in sq.groups()]  # extras add no new need
                new.append(SubQuery(text=dec._clean(question), modality=m, reason="widened", hop=hop,  # type: ignore[arg-type]
                                    group="|".join(dict.fromkeys(stands_for))))
    if not new and ctx.llm_configured:
        try:
            found = [f"{f.modality} {f.source}: {(f.hit.text or '')[:120]} (score {f.raw_score:.2f})" for f in fused[:5]]
            d = dec.llm_reformulate(question, subs, found, make_chat_model(ctx, streaming=False), ctx.modalities)
            new = [sq.model_copy(update={"hop": hop, "reason": "llm rewrite"}) for sq in d.sub_queries]
        except Exception:  # noqa: BLE001 - nothing else to try; answer with what we have
            new = []
    return {
        "sub_queries": dump(kept + new), "hops": hop, "followed": followed,
        "timings": {"reformulate": _secs(t0)},
    }


def generate(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer from the fused evidence (VLM or extractive), then check its citations."""
    t0 = time.perf_counter()
    ctx = ctx_of(runtime)
    question = state.get("question") or ""
    entities = state.get("entities") or []
    fused = _fused(state)
    evidence = guard_evidence(number_evidence(select_evidence(fused, entities)))  # evidence is data
    conf, hops = float(state.get("confidence") or 0.0), int(state.get("hops") or 0)
    unsure = bool(state.get("unsure"))
    note = f"I am not sure: confidence {conf:.2f} after {hops} reformulation hop(s)." if unsure else ""
    extractive = True
    text = ""
    if ctx.generator == "llm" or (ctx.generator == "auto" and ctx.llm_configured):
        try:
            text = llm_answer(question, evidence, ctx, model=make_chat_model(ctx),
                              unsure_note=note and f"Say that you are unsure ({note})")
            extractive = False
        except Exception as exc:  # noqa: BLE001 - the endpoint failed: still answer, extractively
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            note = (note + " " if note else "") + f"(The language model failed: {why}.)"
    if extractive:
        text = extractive_answer(question, evidence, leading_entity(fused, entities))
    answer, citations, invalid = check_citations(text, evidence)
    if note and note not in answer:
        answer = f"{answer}\n{note}"
    return {
        "answer": answer, "citations": dump(citations), "invalid_citations": invalid, "extractive": extractive,
        "messages": [AIMessage(content=answer)], "timings": {"generate": _secs(t0)},
    }


# -- routers -------------------------------------------------------------------------------------
def fan_out(state: State, runtime: Runtime[Context]) -> list[Send]:
    """One `retrieve` branch per modality, carrying that modality's sub-queries of this hop."""
    ctx = ctx_of(runtime)
    hop = int(state.get("hops") or 0)
    by_mod: dict[str, list[dict[str, Any]]] = {}
    for sq in state.get("sub_queries") or []:
        if sq.get("hop", 0) == hop and sq["modality"] in ctx.modalities:
            by_mod.setdefault(sq["modality"], []).append(sq)
    return [
        Send("retrieve", {"modality": m, "sub_queries": sqs, "query_image": state.get("query_image"),
                          "query_audio": state.get("query_audio")})
        for m, sqs in by_mod.items()
    ]


def route_after_reformulate(state: State, runtime: Runtime[Context]) -> list[Send] | Literal["generate"]:
    """Retrieve again with the new sub-queries, or answer when there is nothing new to try."""
    sends = fan_out(state, runtime)
    return sends or "generate"


def route_confidence(state: State, runtime: Runtime[Context]) -> Literal["reformulate", "generate"]:
    """Reformulate while unsure and hops remain; otherwise answer."""
    ctx = ctx_of(runtime)
    if state.get("unsure") and int(state.get("hops") or 0) < ctx.max_hops:
        return "reformulate"
    return "generate"
