"""The graph's typed state: a Studio-compatible `messages` key plus structured fields.

Structured values are stored as JSON-clean dicts (see `mmrag.graph.models`). Reducers:
`messages` appends (add_messages); `hits` merges per modality keeping each item's best score
(a `None` update clears it, which `decompose` does at the start of every question); `timings`
sums seconds per node.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

HitDict = dict[str, Any]


def merge_hits(
    left: dict[str, list[HitDict]] | None, right: dict[str, list[HitDict]] | None
) -> dict[str, list[HitDict]]:
    """Merge per-modality hit lists by id, keeping the better score; `None` resets."""
    if right is None:
        return {}
    out = {m: list(v) for m, v in (left or {}).items()}
    for modality, hits in right.items():
        by_id = {h["id"]: h for h in out.get(modality, [])}
        for h in hits:
            old = by_id.get(h["id"])
            if old is None or h["score"] > old["score"]:
                by_id[h["id"]] = h
        merged = sorted(by_id.values(), key=lambda h: -h["score"])
        for rank, h in enumerate(merged, start=1):
            h["rank"] = rank
        out[modality] = merged
    return out


def add_timings(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    """Sum seconds per node name; an update with `"__reset__"` starts afresh."""
    right = dict(right or {})
    out = {} if right.pop("__reset__", None) else dict(left or {})
    for k, v in right.items():
        out[k] = round(out.get(k, 0.0) + float(v), 6)
    return out


def max_scores(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    """Best raw score per sub-query key ("modality:label"); `None` resets."""
    if right is None:
        return {}
    out = dict(left or {})
    for k, v in right.items():
        out[k] = max(out.get(k, float("-inf")), float(v))
    return out


class InputState(TypedDict, total=False):
    """What a caller (or Studio's chat) sends: messages (a new human message is the question,
    media as base64 content parts), or a `question` string with optional base64 media."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    query_image: str | None  # base64 of an image attached to the question
    query_audio: str | None  # base64 of an audio file attached to the question


class State(InputState, total=False):
    """Everything the nodes read and write."""

    question_message_id: str | None  # the human message the current question came from
    sub_queries: list[dict[str, Any]]  # SubQuery dicts
    dominant: str
    decomposer: str  # "rules" | "llm" | "rules (llm failed: ...)"
    hits: Annotated[dict[str, list[HitDict]], merge_hits]  # item-level hits per modality
    sub_query_best: Annotated[dict[str, float], max_scores]  # best raw score per sub-query
    fused: list[dict[str, Any]]  # FusedItem dicts, best first
    entities: list[dict[str, Any]]  # EntityScore dicts, best first
    confidence: float
    confidence_parts: dict[str, float]
    hops: int
    followed: list[str]  # identifiers already followed from OCR/transcripts
    answer: str
    extractive: bool
    unsure: bool
    citations: list[dict[str, Any]]  # Citation dicts
    invalid_citations: list[str]
    timings: Annotated[dict[str, float], add_timings]


class RetrieveInput(TypedDict):
    """The private payload of one `retrieve` branch (sent with `Send`)."""

    modality: str
    sub_queries: list[dict[str, Any]]
    query_image: str | None
    query_audio: str | None
