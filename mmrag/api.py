"""The Python API.

    >>> from mmrag.api import ingest, search
    >>> report = ingest("../shared/data/esc50", store=".mmrag")
    >>> hits = search("a dog barking", modality="audio", k=5, store=".mmrag")

`ingest` and `search` are standalone functions over a store (a directory, a Chroma server URL, or
a `VectorStore`); the `MultimodalRAG` class (retrieval, fusion and answering) builds on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from mmrag.errors import UserError
from mmrag.schemas import Channel, Hit, IngestReport, Modality

StoreLike = Any  # a VectorStore, or a store directory (str / Path)


class StrictIngestError(UserError):
    """`strict=True` and some files could not be ingested; `report` says which and why."""

    def __init__(self, report: IngestReport) -> None:
        self.report = report
        lines = "\n".join(f"  {i.path}: {i.reason}" for i in report.issues[:20])
        more = f"\n  ... and {len(report.issues) - 20} more" if len(report.issues) > 20 else ""
        super().__init__(f"{len(report.issues)} file(s) had problems (strict mode):\n{lines}{more}")


def _store(store: StoreLike, chroma_url: str | None, encoders: Mapping[Channel, Any] | None,
           must_exist: bool = False) -> Any:
    from mmrag.stores.chroma_store import VectorStore
    from mmrag.stores.search import open_store

    if isinstance(store, VectorStore):
        if encoders:
            raise UserError("pass encoders to the VectorStore, not alongside it")
        return store
    return open_store(store, chroma_url, encoders, must_exist=must_exist)


def ingest(
    path: str | Path,
    store: StoreLike = ".mmrag",
    *,
    chroma_url: str | None = None,
    encoders: Mapping[Channel, Any] | None = None,
    prune: bool = False,
    strict: bool = False,
    follow_links: bool = False,
    progress: bool = False,
    **opts: Any,
) -> IngestReport:
    """Ingest a file or folder into the store, incrementally. `opts` are `IngestOptions` fields
    (chunk_chars, segment_seconds, keyframe_every, max_pixels, max_audio_seconds, ocr, transcripts,
    ...). Bad files are listed in the report's `issues`; with `strict=True` any issue raises
    `StrictIngestError` (after the good files are ingested)."""
    from mmrag.stores.extract import IngestOptions
    from mmrag.stores.ingest import run_ingest

    try:
        options = IngestOptions(**opts)
    except ValidationError as exc:
        raise UserError(f"bad ingest option: {exc}") from exc
    report = run_ingest(path, _store(store, chroma_url, encoders), options, prune=prune,
                        follow_links=follow_links, progress=progress)
    if strict and report.issues:
        raise StrictIngestError(report)
    return report


def search(
    query: str | None = None,
    image: str | Path | Any = None,
    audio: str | Path | Any = None,
    modality: Modality | None = None,
    k: int = 10,
    where: Mapping[str, Any] | None = None,
    store: StoreLike = ".mmrag",
    *,
    chroma_url: str | None = None,
    encoders: Mapping[Channel, Any] | None = None,
) -> list[Hit]:
    """Raw retrieval: the k best units for a text query, an image (path or PIL image) or an audio
    file (path or `AudioClip`), over all modalities or one; `where` is a chroma metadata filter
    (e.g. `{"entity": "cafe-rosa"}`)."""
    from mmrag.stores.search import search_store

    return search_store(_store(store, chroma_url, encoders, must_exist=True), query=query, image=image, audio=audio,
                        modality=modality, k=k, where=where)


# The agentic API (engineer C): the class lives in mmrag.graph.rag; re-exported here.
from mmrag.graph.rag import Answer, MultimodalRAG  # noqa: E402

__all__ = [name for name in ("ingest", "search", "Answer", "MultimodalRAG") if name in globals()]
