"""Split a question into per-modality sub-queries with filters and a dominant modality.

`rule_decompose` is deterministic (a small lexicon of cues per modality, applied per clause);
`llm_decompose` asks a chat model for a pydantic `Decomposition` (structured output) and falls
back to the rules on any failure.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from mmrag.graph.models import Decomposition, SubQuery
from mmrag.tools.filters import parse_filter

QUIET = "loudness_db < -40"
LOUD = "loudness_db > -20"
# cue -> (modality, filter or None); multi-word cues are matched first
CUES: dict[str, tuple[str, str | None]] = {
    "natural light": ("image", None), "looks like": ("image", None), "look like": ("image", None),
    "quiet": ("audio", QUIET), "silent": ("audio", QUIET), "calm": ("audio", QUIET), "peaceful": ("audio", QUIET),
    "loud": ("audio", LOUD), "noisy": ("audio", LOUD),
    "sound": ("audio", None), "sounds": ("audio", None), "hear": ("audio", None), "noise": ("audio", None),
    "listen": ("audio", None), "music": ("audio", None), "barking": ("audio", None), "recording": ("audio", None),
    "light": ("image", None), "bright": ("image", None), "photo": ("image", None), "picture": ("image", None),
    "image": ("image", None), "see": ("image", None), "colour": ("image", None), "color": ("image", None),
    "decor": ("image", None), "interior": ("image", None), "window": ("image", None), "windows": ("image", None),
    "label": ("image", None), "sign": ("image", None),
    "video": ("video", None), "clip": ("video", None), "footage": ("video", None), "scene": ("video", None),
    "film": ("video", None), "watch": ("video", None),
    "vegan": ("text", None), "brunch": ("text", None), "menu": ("text", None), "review": ("text", None),
    "reviews": ("text", None), "price": ("text", None), "serves": ("text", None), "serve": ("text", None),
    "manual": ("text", None), "document": ("text", None), "says": ("text", None), "written": ("text", None),
    "rated": ("text", None), "sells": ("text", None), "sell": ("text", None), "ice cream": ("text", None),
    "food": ("text", None), "drinks": ("text", None), "coffee": ("text", None), "opening": ("text", None), "rating": ("text", None), "recipe": ("text", None), "hours": ("text", None),
}
STOP = set(
    "which what who where when why how is are was were the a an does do did has have had there any some "
    "of to in on at for me please tell find show one ones it its this that".split()
)
_SPLIT = re.compile(r"[,;?!.]|\band\b|\bwith\b|\bthat\b|\bwhere\b|\bbut\b|\bwhich\b", re.I)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
ALL = ("text", "image", "audio", "video")


def _clean(clause: str) -> str:
    words = [w for w in _WORD.findall(clause) if w.lower() not in STOP]
    return " ".join(words)


def _cues(clause: str) -> list[tuple[int, str, str | None]]:
    """(position, modality, filter) of each cue found in a clause, multi-word cues first."""
    low = clause.lower()
    found: list[tuple[int, str, str | None]] = []
    taken: list[tuple[int, int]] = []
    for cue in sorted(CUES, key=lambda c: -len(c)):
        for m in re.finditer(rf"\b{re.escape(cue)}\b", low):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), *CUES[cue]))
    return sorted(found)


def rule_decompose(
    question: str, has_image: bool = False, has_audio: bool = False, modalities: Sequence[str] = ALL
) -> Decomposition:
    """Deterministic decomposition: one sub-query per cued modality, from the clauses that cue it."""
    allowed = [m for m in ALL if m in modalities]
    texts: dict[str, list[str]] = {}
    filters: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    order: list[str] = []
    for clause in _SPLIT.split(question or ""):
        for _, modality, flt in _cues(clause):
            if modality not in allowed:
                continue
            cleaned = _clean(clause)
            if cleaned and cleaned not in texts.setdefault(modality, []):
                texts[modality].append(cleaned)
            if flt and flt not in filters.setdefault(modality, []):
                filters[modality].append(flt)
            counts[modality] = counts.get(modality, 0) + 1
            if modality not in order:
                order.append(modality)
    subs: list[SubQuery] = []
    for m in order:
        subs.append(SubQuery(text=" ".join(texts[m]), modality=m, filters=filters.get(m, []), reason="rule: cue"))
    if has_image:
        for m in ("image", "video"):
            if m in allowed:
                subs.append(SubQuery(modality=m, media="image", reason="rule: attached image"))
    if has_audio:
        for m in ("audio", "video"):
            if m in allowed:
                subs.append(SubQuery(modality=m, media="audio", reason="rule: attached audio"))
    text = _clean(question or "")
    if not text and not (has_image or has_audio):  # other scripts, emoji, only stopwords: search it as written
        text = " ".join((question or "").split())[:2000]
    if not order and text:  # no cue: search every modality with the whole question
        subs.extend(SubQuery(text=text, modality=m, reason="rule: no cue, broad") for m in allowed)
    if not subs:
        raise ValueError("empty question")
    if order:
        dominant = max(order, key=lambda m: (counts[m], -order.index(m)))
    elif has_image:
        dominant = "image"
    elif has_audio:
        dominant = "audio"
    else:
        dominant = "text" if "text" in allowed else allowed[0]
    return Decomposition(sub_queries=subs, dominant=dominant)  # type: ignore[arg-type]


def sanitise(dec: Decomposition, modalities: Sequence[str]) -> Decomposition:
    """Drop sub-queries for modalities not searched and filters that do not parse."""
    subs = []
    for sq in dec.sub_queries:
        if sq.modality not in modalities or not (sq.text.strip() or sq.media):
            continue
        ok = []
        for f in sq.filters:
            try:
                parse_filter(f)
                ok.append(f)
            except ValueError:
                continue
        subs.append(sq.model_copy(update={"filters": ok}))
    if not subs:
        raise ValueError("the decomposition has no usable sub-query")
    dominant = dec.dominant if dec.dominant in {s.modality for s in subs} else subs[0].modality
    return Decomposition(sub_queries=subs, dominant=dominant)


def structured(model: Any, schema: type[Decomposition]) -> Any:
    """`with_structured_output(schema)` (OpenAI's json_schema response format), falling back to
    `response_format={"type": "json_object", "schema": ...}` (what llama.cpp's server accepts; it
    constrains the JSON with a grammar), parsed into the pydantic model."""
    primary = model.with_structured_output(schema)
    if not hasattr(model, "bind"):
        return primary
    from langchain_core.runnables import RunnableLambda

    def parse(msg: Any) -> Any:
        text = msg.content if isinstance(msg.content, str) else "".join(
            p.get("text", "") for p in msg.content if isinstance(p, dict))
        return schema.model_validate_json(text.strip())

    fallback = model.bind(response_format={"type": "json_object", "schema": schema.model_json_schema()}) | RunnableLambda(parse)
    return primary.with_fallbacks([fallback])


def llm_decompose(
    question: str, model: Any, has_image: bool = False, has_audio: bool = False, modalities: Sequence[str] = ALL
) -> Decomposition:
    """Structured decomposition through a chat model (raises on failure; callers fall back)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from mmrag.prompts import load_prompt

    runnable = structured(model, Decomposition)
    attached = ", ".join(k for k, v in (("an image", has_image), ("an audio file", has_audio)) if v)
    user = f"Modalities available: {', '.join(modalities)}.\nQuestion (DATA):\n<<<{question}>>>"
    if attached:
        user += f"\nThe question comes with {attached}; a sub-query may set media to use it."
    out = runnable.invoke([SystemMessage(load_prompt("decompose.md")), HumanMessage(user)])
    if isinstance(out, dict):
        out = Decomposition.model_validate(out)
    for sq in out.sub_queries:
        sq.reason = sq.reason or "llm"
    return sanitise(out, modalities)


def llm_reformulate(
    question: str, sub_queries: Sequence[SubQuery], evidence: Sequence[str], model: Any, modalities: Sequence[str] = ALL
) -> Decomposition:
    """New sub-queries from a chat model, given the question, the old sub-queries and a summary of
    what was found (prompts/reformulate.md); raises on failure."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from mmrag.prompts import load_prompt

    old = "\n".join(f"- {sq.modality}: {sq.label()} {sq.filters or ''}" for sq in sub_queries) or "(none)"
    found = "\n".join(f"- {e}" for e in evidence) or "(nothing)"
    user = (f"Modalities available: {', '.join(modalities)}.\nQuestion (DATA):\n<<<{question}>>>\n"
            f"Sub-queries tried:\n{old}\nWhat they found (DATA):\n<<<\n{found}\n>>>")
    out = structured(model, Decomposition).invoke([SystemMessage(load_prompt("reformulate.md")), HumanMessage(user)])
    if isinstance(out, dict):
        out = Decomposition.model_validate(out)
    return sanitise(out, modalities)
