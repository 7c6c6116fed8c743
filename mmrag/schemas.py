"""Typed data shared by ingestion, retrieval, the graph and the CLI.

Every stage speaks these pydantic models, so that a unit written by ingestion is the same
object a retrieval tool returns and the generator cites.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Modality = Literal["text", "image", "audio", "video"]
"""What a user-facing item is: a document, a photo, a recording or a film."""

Channel = Literal["text", "image", "audio"]
"""How a unit was embedded. A video has three channels: keyframes (image), sound (audio) and
transcript (text); an image has two: pixels (image) and OCR (text); audio has sound and transcript."""

MODALITIES: tuple[Modality, ...] = ("text", "image", "audio", "video")
CHANNELS: tuple[Channel, ...] = ("text", "image", "audio")


class Unit(BaseModel):
    """One embedded, searchable piece of a source file."""

    id: str = Field(description="Stable id derived from the source's content hash and the position.")
    modality: Modality
    channel: Channel
    kind: str = Field(description="chunk | ocr | transcript | image | keyframe | segment")
    source: str = Field(description="Path of the source file, relative to the ingested root.")
    source_hash: str = Field(description="sha256 of the source file's bytes (first 16 hex).")
    media_type: str = Field(description="MIME type of the source file, e.g. image/jpeg.")
    text: str | None = Field(default=None, description="Text of a chunk, OCR text or transcript.")
    char_start: int | None = None
    char_end: int | None = None
    start: float | None = Field(default=None, description="Start of the time range, seconds.")
    end: float | None = Field(default=None, description="End of the time range, seconds.")
    duration: float | None = Field(default=None, description="Duration of the whole source, seconds.")
    loudness_db: float | None = Field(default=None, description="Loudness of the segment in dBFS.")
    entity: str | None = Field(default=None, description="Entity the source belongs to (a place, a machine).")
    parent_id: str | None = Field(default=None, description="Id of the unit this one is derived from.")
    extra: dict[str, str | int | float | bool] = Field(default_factory=dict)

    def metadata(self) -> dict[str, str | int | float | bool]:
        """Flat, chroma-compatible metadata (no None values)."""
        meta = self.model_dump(exclude={"id", "text", "extra"}, exclude_none=True)
        meta.update(self.extra)
        return meta


class Hit(BaseModel):
    """One retrieved unit, as retrieval tools return it."""

    id: str
    modality: Modality
    channel: Channel
    kind: str = ""
    score: float = Field(description="Similarity in [-1, 1] (1 - cosine distance).")
    rank: int = Field(description="1-based rank within its retrieval call.")
    source: str
    text: str | None = None
    start: float | None = None
    end: float | None = None
    entity: str | None = None
    loudness_db: float | None = None
    parent_id: str | None = None
    query: str | None = Field(default=None, description="The sub-query that found this hit.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class FileIssue(BaseModel):
    """A file ingestion skipped or failed on, with the reason."""

    path: str
    reason: str


class IngestReport(BaseModel):
    """What one `ingest` run did."""

    root: str
    files_seen: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    units_added: dict[str, int] = Field(default_factory=dict, description="Units added per collection.")
    units_removed: int = 0
    issues: list[FileIssue] = Field(default_factory=list)
    seconds: float = 0.0
    media_seconds: dict[str, float] = Field(
        default_factory=dict, description="Seconds of audio/video ingested, per modality."
    )
