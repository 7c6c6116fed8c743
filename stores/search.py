"""Opening a store with the right encoders, and raw retrieval (no LLM) across its collections.

`open_store` picks each channel's encoder: an explicit choice wins; otherwise the encoder that
wrote the store's existing collections (so `mmrag search` works on a store ingested with other
encoders without repeating them); otherwise the default. The chroma server URL comes from the
argument, else env `MMRAG_CHROMA_URL`; without one, the on-disk store at `path` is used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mmrag.encoders import Encoder, EncoderError, available
from mmrag.errors import UserError
from mmrag.schemas import CHANNELS, MODALITIES, Channel, Hit, Modality

from .chroma_store import DEFAULT_ENCODERS, VectorStore, collection_name


def parse_encoders(spec: str | None) -> dict[Channel, str]:
    """'image=hash-image,audio=hash-audio' -> {'image': 'hash-image', 'audio': 'hash-audio'}."""
    out: dict[Channel, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        channel, sep, name = part.partition("=")
        channel, name = channel.strip(), name.strip()
        if not sep or channel not in CHANNELS or not name:
            raise UserError(f"bad encoder choice {part!r}: use CHANNEL=NAME with CHANNEL in {', '.join(CHANNELS)}")
        if name not in available():
            raise UserError(f"unknown encoder {name!r}; available: {', '.join(available())}")
        out[channel] = name  # type: ignore[index]
    return out


def stored_encoders(client: Any) -> dict[Channel, str]:
    """Encoder names recorded on the store's existing collections, per channel."""
    out: dict[Channel, str] = {}
    for coll in client.list_collections():
        meta = getattr(coll, "metadata", None) or {}
        channel = meta.get("mmrag:channel")
        try:
            name = json.loads(meta.get("mmrag:encoder", "{}")).get("name")
        except ValueError:
            name = None
        if channel in CHANNELS and name and name in available():
            out[channel] = name
    return out


def open_store(
    path: str | Path | None = ".mmrag",
    url: str | None = None,
    encoders: Mapping[Channel, str | Encoder] | None = None,
    must_exist: bool = False,
) -> VectorStore:
    """`must_exist`: a missing store directory is a user error (for search/stats), not created."""
    url = url or os.environ.get("MMRAG_CHROMA_URL") or None
    if must_exist and not url and not Path(path or ".mmrag").is_dir():
        raise UserError(f"no store at {path or '.mmrag'} (run `mmrag ingest PATH --store {path or '.mmrag'}` first)")
    store = VectorStore(path=path or ".mmrag", url=url, encoders=encoders)
    explicit = dict(encoders or {})
    try:
        inferred = stored_encoders(store.client)
    except Exception as exc:  # noqa: BLE001 - unreachable server, unreadable dir
        raise UserError(f"cannot open the store at {url or path}: {exc}") from exc
    store._encoder_specs.update({**DEFAULT_ENCODERS, **inferred, **explicit})  # noqa: SLF001 - same package
    return store


def _query_vectors(store: VectorStore, channel: Channel, query: str | None, image: Any, audio: Any) -> np.ndarray:
    try:
        enc = store.encoder(channel)
    except EncoderError as exc:
        raise UserError(f"{exc} (choose one with --encoders {channel}=NAME)") from exc
    if query is not None:
        return enc.embed_text([query])
    if image is not None:
        return enc.embed_images([image])
    return enc.embed_audio([audio])


def _load_query_image(path: str | Path) -> Any:
    from .media import load_image
    from .text_readers import ReadError

    if not Path(path).is_file():
        raise UserError(f"no such image: {path}")
    try:
        return load_image(Path(path), 50_000_000)
    except ReadError as exc:
        raise UserError(f"cannot read image {path}: {exc}") from exc


def _load_query_audio(path: str | Path, max_seconds: float = 30.0) -> Any:
    from mmrag.encoders import AudioClip

    from .media import SAMPLE_RATE, decode_audio
    from .text_readers import ReadError

    if not Path(path).is_file():
        raise UserError(f"no such audio file: {path}")
    try:
        dec = decode_audio(Path(path), max_seconds)
    except ReadError as exc:
        raise UserError(f"cannot read audio {path}: {exc}") from exc
    assert dec is not None
    return AudioClip(dec.samples, SAMPLE_RATE)


def search_store(
    store: VectorStore,
    query: str | None = None,
    image: str | Path | Any = None,
    audio: str | Path | Any = None,
    modality: Modality | None = None,
    k: int = 10,
    where: Mapping[str, Any] | None = None,
) -> list[Hit]:
    """Top-k units over every collection of `modality` (all when None) that the query can reach:
    a text query searches all channels (each encoder embeds text into its own space), an image
    query the image channels (photos, keyframes), an audio query the audio channels."""
    given = [x for x in (query, image, audio) if x is not None]
    if len(given) != 1:
        raise UserError("give exactly one of a text query, --image FILE or --audio FILE")
    if query is not None and not str(query).strip():
        raise UserError("the query is empty")
    if modality is not None and modality not in MODALITIES:
        raise UserError(f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
    if k < 1:
        raise UserError("k must be at least 1")
    if where is not None and not isinstance(where, Mapping):
        raise UserError("where must be a mapping (a chroma metadata filter)")
    if isinstance(image, (str, Path)):
        image = _load_query_image(image)
    if isinstance(audio, (str, Path)):
        audio = _load_query_audio(audio)
    wanted: Channel | None = None if query is not None else ("image" if image is not None else "audio")
    vectors: dict[Channel, np.ndarray] = {}
    hits: list[Hit] = []
    for m, ch, _ in store.existing():
        if (modality and m != modality) or (wanted and ch != wanted):
            continue
        if ch not in vectors:
            vectors[ch] = _query_vectors(store, ch, query, image, audio)
        try:
            found = store.query(m, ch, vectors[ch], k=k, where=where, query_text=query)[0]
        except Exception as exc:  # chroma's errors for a malformed filter vary by version
            if not where:
                raise
            raise UserError(f"bad filter {dict(where or {})!r} for {collection_name(m, ch)}: {exc}") from exc
        hits.extend(found)
    hits.sort(key=lambda h: h.score, reverse=True)
    return [h.model_copy(update={"rank": i}) for i, h in enumerate(hits[:k], start=1)]
