"""Pydantic models the graph's nodes exchange: sub-queries, fused items, entities, citations.

The graph state stores them as plain dicts (`model_dump()`), so checkpoints and Studio stay
JSON-clean; nodes validate them back with `Model.model_validate` where they need the types.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mmrag.schemas import Hit, Modality

MediaKind = Literal["image", "audio"]


class SubQuery(BaseModel):
    """One retrieval request for one modality."""

    text: str = Field(default="", description="Search phrase (empty when the query is a media file).")
    modality: Modality = Field(description="The modality this sub-query targets.")
    filters: list[str] = Field(default_factory=list, description="Filters such as 'loudness_db < -40'.")
    media: MediaKind | None = Field(default=None, description="Use the question's attached image/audio.")
    entity: str | None = None
    reason: str = Field(default="", description="Why this sub-query exists (rule, llm, follow-up).")
    hop: int = Field(default=0, description="The reformulation hop that created it (0 = decomposition).")
    group: str = Field(default="", description="Keys ('|'-joined) of the sub-queries this one stands in for.")

    def label(self) -> str:
        """What retrieval records as the hit's `query`."""
        return self.text or f"<{self.media}>"

    def key(self) -> str:
        return f"{self.modality}:{self.label()}"

    def groups(self) -> list[str]:
        """The needs of the question this sub-query answers (its own key unless it stands in)."""
        return self.group.split("|") if self.group else [self.key()]


class Decomposition(BaseModel):
    """Structured output of the decomposer."""

    sub_queries: list[SubQuery] = Field(description="One or more per-modality sub-queries.")
    dominant: Modality = Field(default="text", description="The modality that matters most.")


class FusedItem(BaseModel):
    """One item of the fused ranking, with what each modality contributed."""

    id: str
    modality: Modality
    source: str
    score: float
    raw_score: float
    entity: str | None = None
    contributions: dict[str, float] = Field(default_factory=dict)
    hit: Hit

    def label(self) -> str:
        return self.hit.text[:80] if self.hit.text else self.source


class EntityScore(BaseModel):
    """Composite score of one entity, summed over its best item per modality."""

    entity: str
    score: float
    contributions: dict[str, float] = Field(default_factory=dict, description="Per-modality part of the score.")
    items: dict[str, str] = Field(default_factory=dict, description="Best item id per modality.")


class Citation(BaseModel):
    """One checked citation marker in an answer."""

    marker: str
    id: str
    modality: Modality
    source: str
    start: float | None = None
    end: float | None = None
    at: float | None = Field(default=None, description="The moment cited, seconds (audio/video).")
    entity: str | None = None


class Evidence(BaseModel):
    """An item shown to the generator, with the marker it must be cited by."""

    n: int
    marker_base: str = Field(description="'1', 'img 1', 'audio 1', 'video 1'.")
    item: FusedItem

    def marker(self, at: float | None = None) -> str:
        if self.item.modality in ("audio", "video"):
            t = at if at is not None else (self.item.hit.start or 0.0)
            return f"[{self.marker_base} at {fmt_time(t)}]"
        return f"[{self.marker_base}]"


def fmt_time(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def dump(items: list[BaseModel]) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json") for i in items]
