"""`MultimodalRAG`: the Python API over the store, the retrieval tools and the graph.

    >>> rag = MultimodalRAG(store=".mmrag")
    >>> rag.ingest("../shared/data/audiocaps")
    >>> ans = rag.ask("Which cafe is quiet and has natural light?")
    >>> ans.text, ans.citations, ans.confidence, ans.timings

Threads persist with a checkpointer: in memory by default, SQLite when `checkpoint` is a path.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import mimetypes
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from pydantic import BaseModel, Field

from mmrag.errors import UserError
from mmrag.graph.context import Context
from mmrag.graph.models import Citation
from mmrag.schemas import Hit


class Answer(BaseModel):
    """What `ask` returns."""

    text: str
    citations: list[Citation] = Field(default_factory=list)
    invalid_citations: list[str] = Field(default_factory=list, description="Markers removed as pointing at nothing.")
    confidence: float = 0.0
    confidence_parts: dict[str, float] = Field(default_factory=dict)
    hops: int = 0
    unsure: bool = False
    extractive: bool = True
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds per node (retrieve per modality).")
    sub_queries: list[dict[str, Any]] = Field(default_factory=list)
    decomposer: str = ""
    thread_id: str | None = None

    @classmethod
    def from_state(cls, state: Mapping[str, Any], thread_id: str | None = None) -> "Answer":
        return cls(
            text=state.get("answer", ""), citations=state.get("citations") or [],
            invalid_citations=state.get("invalid_citations") or [], confidence=state.get("confidence") or 0.0,
            confidence_parts=state.get("confidence_parts") or {}, hops=state.get("hops") or 0,
            unsure=bool(state.get("unsure")), extractive=bool(state.get("extractive", True)),
            timings=state.get("timings") or {}, sub_queries=state.get("sub_queries") or [],
            decomposer=state.get("decomposer", ""), thread_id=thread_id,
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: answer, citations (marker, id, modality, source, start, end), confidence, hops, timings."""
        data = self.model_dump(mode="json")
        data["answer"] = data.pop("text")
        return data


def media_part(path: str | Path) -> dict[str, Any]:
    """A local image/audio file as a base64 content part of a human message."""
    from mmrag.tools.retrieval import guess_media_kind

    p = Path(path)
    if not p.is_file():
        raise UserError(f"no such file: {path}")
    b64 = base64.b64encode(p.read_bytes()).decode()
    if guess_media_kind(str(p)) == "image":
        mime = mimetypes.guess_type(p.name)[0] or "image/jpeg"
        return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{b64}"}}
    return {"type": "input_audio", "input_audio": {"data": b64, "format": p.suffix.lstrip(".").lower()}}


def human_message(question: str, image: str | Path | None = None, audio: str | Path | None = None) -> Any:
    from langchain_core.messages import HumanMessage

    if not (question or "").strip() and not image and not audio:
        raise UserError("empty question: give text, --image or --audio")
    parts: list[Any] = [{"type": "text", "text": question or ""}]
    parts += [media_part(p) for p in (image, audio) if p]
    return HumanMessage(content=parts if len(parts) > 1 else question)


def make_checkpointer(checkpoint: Any = None) -> Any:
    """InMemorySaver by default; a SQLite file when `checkpoint` is a path; or the object given."""
    if checkpoint is None:
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    if isinstance(checkpoint, (str, Path)):
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        return SqliteSaver(sqlite3.connect(str(checkpoint), check_same_thread=False))
    return checkpoint


class MultimodalRAG:
    """Store + tools + graph. `context` (a Context or dict) sets fusion, thresholds, the LLM..."""

    def __init__(
        self,
        store: str | Path = ".mmrag",
        chroma_url: str | None = None,
        encoders: Mapping[str, str] | None = None,
        context: Context | Mapping[str, Any] | None = None,
        checkpoint: Any = None,
        **overrides: Any,
    ) -> None:
        base = dataclasses.asdict(Context.from_any(dict(context) if isinstance(context, Mapping) else context))
        base.update(store=str(store), chroma_url=chroma_url or base.get("chroma_url"))
        if encoders:
            base["encoders"] = dict(encoders)
        base.update(overrides)
        self.context = Context.from_any(base)
        self._checkpoint = checkpoint
        self._graph: Any = None

    # -- pieces ------------------------------------------------------------------------------
    @property
    def store(self) -> Any:
        from mmrag.tools.retrieval import get_store

        return get_store(self.context.store, self.context.chroma_url, self.context.encoders or None)

    @property
    def graph(self) -> Any:
        """The compiled graph (with this instance's checkpointer); usable as a subgraph."""
        if self._graph is None:
            from mmrag.graph.graph import build_graph

            self._graph = build_graph(checkpointer=make_checkpointer(self._checkpoint))
        return self._graph

    def as_tools(self, local: bool = True) -> list[Any]:
        from mmrag.tools.retrieval import as_tools

        return as_tools(store=self.store, local=local)

    # -- operations --------------------------------------------------------------------------
    def ingest(self, path: str | Path, **opts: Any) -> Any:
        """Ingest files into this store (delegates to `mmrag.api.ingest`)."""
        from mmrag import api
        from mmrag.tools.retrieval import clear_store_cache

        report = api.ingest(path, self.context.store, chroma_url=self.context.chroma_url,
                            encoders=self.context.encoders or None, **opts)
        clear_store_cache()  # new collections may have appeared
        return report

    def search(
        self, query: str | None = None, modality: str | None = None, k: int = 5, filters: Sequence[str] = (),
        image: str | Path | None = None, audio: str | Path | None = None,
    ) -> list[Hit]:
        """Item-level hits from one modality's retriever, or from all of them (best first)."""
        from mmrag.tools.retrieval import RetrievalInput, retrievers

        path = image or audio
        req = RetrievalInput(query=query, path=str(path) if path else None,
                             media_kind="image" if image else ("audio" if audio else None), k=k, filters=list(filters))
        mods = [modality] if modality else self.context.modalities
        hits = [h for r in retrievers(self.store, local=True, modalities=mods).values() for h in r.retrieve(req)]
        return sorted(hits, key=lambda h: -h.score)[: k if modality is None else len(hits)]

    def _run_args(self, question: str, image: Any, audio: Any, thread_id: str | None, overrides: Mapping[str, Any]) -> tuple[dict, dict, Context]:
        from mmrag.validation import check_audio_file, check_image_file, clean_question

        question = clean_question(question, allow_empty=bool(image or audio))  # UserError on bad input
        image, audio = (check_image_file(image) if image else None), (check_audio_file(audio) if audio else None)
        ctx = self.context if not overrides else Context.from_any({**dataclasses.asdict(self.context), **overrides})
        config = {"configurable": {"thread_id": thread_id or uuid.uuid4().hex}}
        return {"messages": [human_message(question, image, audio)]}, config, ctx

    def ask(self, question: str, image: str | Path | None = None, audio: str | Path | None = None,
            thread_id: str | None = None, **overrides: Any) -> Answer:
        """Run the graph on one question; `overrides` are Context fields for this call only."""
        inputs, config, ctx = self._run_args(question, image, audio, thread_id, overrides)
        state = self.graph.invoke(inputs, config=config, context=ctx)
        return Answer.from_state(state, config["configurable"]["thread_id"])

    def stream(self, question: str, image: str | Path | None = None, audio: str | Path | None = None,
               thread_id: str | None = None, callbacks: list[Any] | None = None,
               **overrides: Any) -> Iterator[tuple[str, Any]]:
        """(mode, payload) events: "updates" per node, "messages" tokens, "custom" progress; then
        ("answer", Answer). `callbacks` are LangChain callbacks (e.g. a run-tree collector)."""
        inputs, config, ctx = self._run_args(question, image, audio, thread_id, overrides)
        if callbacks:
            config["callbacks"] = list(callbacks)
        for mode, payload in self.graph.stream(inputs, config=config, context=ctx,
                                               stream_mode=["updates", "messages", "custom"]):
            yield mode, payload
        state = self.graph.get_state(config).values
        yield "answer", Answer.from_state(state, config["configurable"]["thread_id"])

    async def aask(self, question: str, **kwargs: Any) -> Answer:
        return await asyncio.to_thread(self.ask, question, **kwargs)

    async def asearch(self, query: str | None = None, **kwargs: Any) -> list[Hit]:
        return await asyncio.to_thread(self.search, query, **kwargs)
