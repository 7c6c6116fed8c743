"""Retrieval tools, one per modality, with typed inputs and outputs.

Each modality's retriever queries every channel of that modality (an image's pixels and its OCR
text; a video's keyframes, sound and transcript) through `VectorStore.query`, and merges the
unit hits by parent item (the source file), keeping the best unit as the item's evidence.

    >>> tools = as_tools(store=".mmrag")          # [search_text, search_image, search_audio, search_video]
    >>> tools[2].invoke({"query": "a dog barking", "filters": ["loudness_db < -40"]})
"""

from __future__ import annotations

import base64
import io
import json
import os
import threading
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field, model_validator

from mmrag.errors import UserError
from mmrag.schemas import Channel, Hit, Modality
from mmrag.tools.filters import build_where
from mmrag.stores.resilience import store_call

CHANNELS_OF: dict[str, tuple[Channel, ...]] = {
    "text": ("text",),
    "image": ("image", "text"),
    "audio": ("audio", "text"),
    "video": ("image", "audio", "text"),
}


class RetrievalInput(BaseModel):
    """What a retrieval tool takes: a text query or a media query, and optional constraints."""

    query: str | None = Field(default=None, description="Text to search for.")
    media_base64: str | None = Field(default=None, description="An image or audio file as base64 (query by example).")
    media_kind: str | None = Field(default=None, description="'image' or 'audio' for media_base64/path.")
    path: str | None = Field(default=None, description="A local media file; allowed only in local mode.")
    k: int = Field(default=5, ge=1, le=100, description="How many items to return.")
    filters: list[str] = Field(default_factory=list, description="e.g. ['loudness_db < -40'].")
    entity: str | None = Field(default=None, description="Only items of this entity.")
    time_start: float | None = Field(default=None, description="Only segments ending after this second.")
    time_end: float | None = Field(default=None, description="Only segments starting before this second.")

    @model_validator(mode="after")
    def _one_query(self) -> "RetrievalInput":
        if not (self.query and self.query.strip()) and not self.media_base64 and not self.path:
            raise ValueError("give a query text, media_base64 or a path")
        return self


class RetrievalOutput(BaseModel):
    """What a retrieval tool returns: item-level hits, best first."""

    modality: Modality
    hits: list[Hit] = Field(default_factory=list)


@runtime_checkable
class Retriever(Protocol):
    """Haystack-style component: `warm_up()` builds clients and models; `retrieve()` runs."""

    modality: Modality

    def warm_up(self) -> None: ...

    def retrieve(self, request: RetrievalInput) -> list[Hit]: ...


# -- stores ------------------------------------------------------------------------------------
_STORES: dict[str, Any] = {}
_LOCK = threading.Lock()


def infer_encoders(client: Any) -> dict[str, str]:
    """Encoder name per channel, read from the collections that the store already has."""
    out: dict[str, str] = {}
    for coll in client.list_collections():
        name = coll.name if hasattr(coll, "name") else str(coll)
        if "-" not in name or name.startswith("mmrag"):
            continue
        channel = name.split("-", 1)[1]
        try:
            meta = client.get_collection(name).metadata or {}
        except Exception:  # noqa: BLE001 - a collection that vanished meanwhile
            continue
        cfg = json.loads(meta.get("mmrag:encoder", "{}") or "{}")
        if cfg.get("name") and channel not in out:
            out[channel] = cfg["name"]
    return out


def get_store(path: str | None = ".mmrag", url: str | None = None, encoders: Mapping[str, Any] | None = None) -> Any:
    """A cached `VectorStore`; channels without an explicit encoder use the one that wrote them."""
    from mmrag.stores import VectorStore
    from mmrag.stores.resilience import connect

    key = json.dumps([str(path), url, {k: str(v) for k, v in (encoders or {}).items()}], sort_keys=True)
    with _LOCK:
        if key not in _STORES:
            if not url and path and not Path(path).exists():
                raise UserError(f"no store at {path!r}; run `mmrag ingest` first or pass --store")
            client = connect(path, url)  # a server: retried, bounded timeout, StoreUnavailable (stores.resilience)
            specs = {**infer_encoders(client), **dict(encoders or {})}
            store = VectorStore(path=path, url=url, encoders=specs)
            store._client = client
            _STORES[key] = store
        return _STORES[key]


def clear_store_cache() -> None:
    with _LOCK:
        _STORES.clear()


# -- media -------------------------------------------------------------------------------------
def decode_image(data: bytes) -> Any:
    from PIL import Image

    try:
        return Image.open(io.BytesIO(data)).convert("RGB")
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"not a readable image: {exc}") from exc


def decode_audio(data: bytes) -> Any:
    import soundfile as sf

    from mmrag.encoders import AudioClip

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"not a readable audio file: {exc}") from exc
    return AudioClip(samples=samples.mean(axis=1), sample_rate=int(rate))


def guess_media_kind(path: str) -> str:
    ext = Path(path).suffix.lower()
    if ext in {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}:
        return "image"
    if ext in {".wav", ".flac", ".ogg", ".mp3", ".m4a"}:
        return "audio"
    raise UserError(f"cannot tell whether {path!r} is an image or audio file")


def combine_channels(best: Mapping[str, float]) -> float:
    """An item's score from its channels' best unit scores: the mean over its media channels (a
    video's keyframes and sound: each channel is weak alone, and averaging them ranked videos better
    than the max in every caption->video measurement, see encoders/weights/MODEL_CARD.md), or its
    text channel (OCR, transcript: an exact wording) when that is higher. With one media channel
    (photos, sound files) this is the max of the two, as before."""
    media = [v for ch, v in best.items() if ch != "text"]
    text = best.get("text")
    mean = sum(media) / len(media) if media else None
    if mean is None:
        return float(text if text is not None else 0.0)
    return float(mean if text is None else max(mean, text))


def merge_by_item(hits: Sequence[Hit], k: int, floors: Mapping[str, float] | None = None) -> list[Hit]:
    """Group unit hits by parent item (source), score each item from its channels' best units
    (`combine_channels`), keep its best unit as the evidence, re-rank 1..k.

    The list is ranked by the combined score, then shifted so that its top item scores what its best
    channel scored: a mean of a keyframe's 0.25 and a sound's 0.05 would otherwise sink every video
    under the noise floor (`Context.min_score`) and beside photos and texts in fusion, which compare
    single-channel similarities. (A shift keeps the order; with one media channel it is 0.)

    `floors` gives, per channel whose query was cut off at `n_results`, the lowest score it returned:
    an item missing from that channel's hits scores at most that there, so the floor stands in for
    it. A channel not cut off returned every unit it holds: an item missing from it has no such
    channel (a silent video, a photo without text) and is scored on the others."""
    floors = floors or {}
    best: dict[str, Hit] = {}
    per_channel: dict[str, dict[str, float]] = {}
    for h in hits:
        key = h.source or h.parent_id or h.id
        chans = per_channel.setdefault(key, {})
        chans[h.channel] = max(h.score, chans.get(h.channel, -1.0))
        if key not in best or h.score > best[key].score:
            best[key] = h
    media_floors = {ch: f for ch, f in floors.items() if ch != "text"}
    scored = []
    for key, h in best.items():
        chans = per_channel[key]
        if media_floors and any(c != "text" for c in chans):
            chans = {**media_floors, **chans}  # the floor only where the item has no hit
        scored.append((combine_channels(chans), key, h))
    scored.sort(key=lambda t: -t[0])
    if scored:  # keep the list's scale: the top item carries its best channel's similarity
        top_channels = per_channel[scored[0][1]]
        shift = max(top_channels.values()) - scored[0][0]
        scored = [(score + shift, key, h) for score, key, h in scored]
    ranked = []
    for rank, (score, key, h) in enumerate(scored[:k], start=1):
        found = per_channel[key]
        meta = {**h.metadata, "matched_channels": ",".join(sorted(found))}
        if len(found) > 1 or score != h.score:
            meta["channel_scores"] = ",".join(f"{ch}:{v:.4f}" for ch, v in sorted(found.items()))
        ranked.append(h.model_copy(update={"rank": rank, "score": score, "metadata": meta}))
    return ranked


class ModalityRetriever:
    """Searches all channels of one modality in a `VectorStore` and merges hits per item."""

    def __init__(self, modality: Modality, store: Any, local: bool = False) -> None:
        if modality not in CHANNELS_OF:
            raise UserError(f"unknown modality {modality!r}")
        self.modality = modality
        self.store = store
        self.local = local

    def _media(self, req: RetrievalInput) -> tuple[str, bytes] | None:
        if req.path:
            if not self.local:
                raise UserError("paths are only allowed in local mode; send the file as media_base64")
            p = Path(os.path.expanduser(req.path))
            if not p.is_file():
                raise UserError(f"no such file: {req.path}")
            return req.media_kind or guess_media_kind(str(p)), p.read_bytes()
        if req.media_base64:
            if req.media_kind not in ("image", "audio"):
                raise UserError("media_kind must be 'image' or 'audio' with media_base64")
            try:
                return req.media_kind, base64.b64decode(req.media_base64, validate=False)
            except ValueError as exc:
                raise UserError(f"bad base64: {exc}") from exc
        return None

    def _embed(self, channel: Channel, req: RetrievalInput, media: tuple[str, bytes] | None) -> np.ndarray | None:
        enc = self.store.encoder(channel)
        if media is None:
            return enc.embed_text([req.query or ""])
        kind, data = media
        if kind == "image" and channel == "image":
            return enc.embed_images([decode_image(data)])
        if kind == "audio" and channel == "audio":
            return enc.embed_audio([decode_audio(data)])
        return None  # a media query only searches its own channel

    def channels(self) -> list[Channel]:
        """This modality's channels that have a collection in the store (others are not embedded)."""
        # the store caches the names briefly: no list_collections() round trip per question and modality
        # listing the names is a server round trip too: retried (and reported clearly) while it is down
        return store_call(
            lambda: [ch for ch in CHANNELS_OF[self.modality] if self.store.has_collection(self.modality, ch)],
            self.store,
        )

    def warm_up(self) -> None:
        for ch in self.channels():
            self.store.encoder(ch).warm_up()

    def retrieve(self, request: RetrievalInput) -> list[Hit]:
        media = self._media(request)
        where = build_where(request.filters, request.entity, request.time_start, request.time_end)
        label = request.query or f"<{media[0] if media else 'media'}>"
        unit_hits: list[Hit] = []
        floors: dict[str, float] = {}
        n_results = request.k * 3
        for channel in self.channels():
            emb = self._embed(channel, request, media)
            if emb is None:
                continue
            got = store_call(lambda ch=channel, e=emb: self.store.query(  # retried while a server is down
                self.modality, ch, e, k=n_results, where=where, query_text=label), self.store)
            found = got[0] if got else []
            if len(found) >= n_results:  # cut off: units not returned score at most the last one
                floors[channel] = min(h.score for h in found)
            unit_hits.extend(found)
        return merge_by_item(unit_hits, request.k, floors)


def make_tool(retriever: Retriever) -> Any:
    """A LangChain StructuredTool wrapping one retriever."""
    from langchain_core.tools import StructuredTool

    modality = retriever.modality

    def _run(**kwargs: Any) -> dict[str, Any]:
        req = RetrievalInput(**kwargs)
        return RetrievalOutput(modality=modality, hits=retriever.retrieve(req)).model_dump(mode="json")

    return StructuredTool.from_function(
        func=_run,
        name=f"search_{modality}",
        description=(
            f"Search the {modality} items of the multimodal store by a text query (or a media example). "
            "Returns hits with id, modality, score, rank, source, time range and entity."
        ),
        args_schema=RetrievalInput,
    )


def retrievers(store: Any, local: bool = False, modalities: Sequence[str] | None = None) -> dict[str, ModalityRetriever]:
    mods = modalities or ("text", "image", "audio", "video")
    return {m: ModalityRetriever(m, store, local=local) for m in mods}  # type: ignore[arg-type]


def as_tools(
    store: Any = None,
    path: str | None = ".mmrag",
    url: str | None = None,
    encoders: Mapping[str, Any] | None = None,
    local: bool = False,
) -> list[Any]:
    """One LangChain tool per modality. `local=True` lets them read media from local paths."""
    vs = store if store is not None and not isinstance(store, (str, os.PathLike)) else None
    if vs is None:
        vs = get_store(str(store) if store is not None else path, url, encoders)
    return [make_tool(r) for r in retrievers(vs, local=local).values()]
