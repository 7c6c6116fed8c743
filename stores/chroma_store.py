"""Per-modality chromadb collections, each bound to the encoder that wrote it.

One collection per (modality, channel): `text-text`, `image-image`, `image-text` (OCR),
`audio-audio`, `audio-text` (transcripts), `video-image` (keyframes), `video-audio`, `video-text`.
Each records its encoder's config and fingerprint in its metadata and refuses to be queried or
extended with another encoder. Embeddings are always computed by us and passed explicitly; a
guard embedding function is attached so chroma's default (a model download) can never load.
A `mmrag-files` collection records which source files are fully ingested (with their content hash),
so ingestion is incremental and a killed run resumes cleanly.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlparse

import numpy as np

from mmrag.encoders import Encoder, get_encoder
from mmrag.schemas import CHANNELS, MODALITIES, Channel, Hit, Modality, Unit

FILES_COLLECTION = "mmrag-files"
MISSING_TTL_S = 2.0  # how long a query trusts that a collection does not exist
DEFAULT_ENCODERS: dict[Channel, str] = {"text": "minilm", "image": "effnet-translator", "audio": "whisper-translator"}


class StoreError(RuntimeError):
    """The store cannot do what was asked (mismatched encoder, bad filter, unreachable server)."""


class EncoderMismatch(StoreError):
    pass


def collection_name(modality: Modality, channel: Channel) -> str:
    return f"{modality}-{channel}"


class _NoDefaultEmbedding:
    """Attached to every collection so chroma never falls back to its downloading default."""

    def __call__(self, input: Any) -> Any:  # noqa: A002 - chroma's signature
        raise StoreError("mmrag collections take explicit embeddings; use mmrag's encoders")

    @staticmethod
    def name() -> str:
        return "mmrag-explicit"

    def is_legacy(self) -> bool:
        return False

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "_NoDefaultEmbedding":
        return _NoDefaultEmbedding()

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]

    def embed_query(self, input: Any) -> Any:  # noqa: A002
        return self(input)

    def validate_config(self, config: dict[str, Any]) -> None:
        return None

    def validate_config_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        return None


def make_client(path: str | os.PathLike[str] | None = None, url: str | None = None) -> Any:
    """An embedded PersistentClient at `path`, or an HttpClient for a Chroma server at `url`."""
    import chromadb
    from chromadb.config import Settings
    from chromadb.utils.embedding_functions import register_embedding_function

    register_embedding_function(_NoDefaultEmbedding)  # so chroma can read collection configurations back

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise StoreError(f"bad chroma url {url!r}")
        return chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=settings,
        )
    root = Path(path or ".mmrag")
    root.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(root), settings=settings)


class VectorStore:
    """The per-modality collections of one store, with their encoders.

    `encoders` maps a channel to an encoder name or object; by default text uses MiniLM, images the
    trained EfficientNet translator and audio the Whisper hidden-state translator. The client and
    the encoders are built lazily (`warm_up()`), never at construction.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = ".mmrag",
        url: str | None = None,
        encoders: Mapping[Channel, str | Encoder] | None = None,
        hnsw: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path) if path and not url else None
        self.url = url
        self._encoder_specs: dict[Channel, str | Encoder] = {**DEFAULT_ENCODERS, **(encoders or {})}
        self._encoders: dict[Channel, Encoder] = {}
        self.hnsw = dict(hnsw or {})
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._missing: dict[str, float] = {}  # name -> when a lookup found no such collection
        self._names: tuple[float, set[str]] = (-1e9, set())  # (when listed, collection names)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.path, self.url)
        return self._client

    def warm_up(self, channels: Iterable[Channel] = CHANNELS) -> None:
        _ = self.client
        for ch in channels:
            self.encoder(ch).warm_up()

    def encoder(self, channel: Channel) -> Encoder:
        if channel not in self._encoders:
            spec = self._encoder_specs[channel]
            self._encoders[channel] = get_encoder(spec) if isinstance(spec, str) else spec
        return self._encoders[channel]

    # -- collections -----------------------------------------------------------------------
    def _encoder_meta(self, channel: Channel) -> dict[str, Any]:
        enc = self.encoder(channel)
        cfg = enc.config()
        from mmrag.encoders import config_fingerprint

        return {"mmrag:encoder": json.dumps(cfg, sort_keys=True), "mmrag:fingerprint": config_fingerprint(cfg)}

    def collection(self, modality: Modality, channel: Channel, create: bool = True) -> Any | None:
        """The collection for (modality, channel), checked against this store's encoder."""
        name = collection_name(modality, channel)
        if name in self._collections:
            return self._collections[name]
        if not create and time.monotonic() - self._missing.get(name, -1e9) < MISSING_TTL_S:
            return None  # looked up moments ago: spare every query a failing round trip
        meta = self._encoder_meta(channel)
        try:
            coll = self.client.get_collection(name, embedding_function=_NoDefaultEmbedding())
        except Exception:  # chroma raises NotFoundError / ValueError depending on version
            coll = None
        if coll is None:
            if not create:
                self._missing[name] = time.monotonic()
                return None
            hnsw = {"space": "cosine", **self.hnsw}
            coll = self.client.create_collection(
                name,
                metadata={**meta, "mmrag:modality": modality, "mmrag:channel": channel},
                configuration={"hnsw": hnsw},
                embedding_function=_NoDefaultEmbedding(),
            )
        else:
            stored = (coll.metadata or {}).get("mmrag:fingerprint")
            if stored and stored != meta["mmrag:fingerprint"]:
                raise EncoderMismatch(
                    f"collection {name!r} was written by encoder "
                    f"{(coll.metadata or {}).get('mmrag:encoder')} but this store is configured with "
                    f"{meta['mmrag:encoder']}; re-ingest into a new store or configure the same encoder"
                )
        self._collections[name] = coll
        return coll

    def has_collection(self, modality: Modality, channel: Channel) -> bool:
        """Whether the collection exists, without building its encoder; the names are listed at most
        once every MISSING_TTL_S (a question asks this for every modality)."""
        name = collection_name(modality, channel)
        if name in self._collections:
            return True
        when, names = self._names
        if time.monotonic() - when >= MISSING_TTL_S:
            names = {c.name if hasattr(c, "name") else str(c) for c in self.client.list_collections()}
            self._names = (time.monotonic(), names)
        return name in names

    def existing(self) -> list[tuple[Modality, Channel, Any]]:
        """Collections that exist in the store (without creating any)."""
        names = {c.name if hasattr(c, "name") else str(c) for c in self.client.list_collections()}
        out = []
        for m in MODALITIES:
            for ch in CHANNELS:
                if collection_name(m, ch) in names:
                    out.append((m, ch, self.collection(m, ch)))
        return out

    def files(self) -> Any:
        if FILES_COLLECTION not in self._collections:
            self._collections[FILES_COLLECTION] = self.client.get_or_create_collection(
                FILES_COLLECTION, embedding_function=_NoDefaultEmbedding()
            )
        return self._collections[FILES_COLLECTION]

    # -- writing ---------------------------------------------------------------------------
    def upsert(self, units: Sequence[Unit], embeddings: np.ndarray, batch: int = 2048) -> None:
        """Write units (all of one modality and channel) with their embeddings."""
        if not units:
            return
        keys = {(u.modality, u.channel) for u in units}
        if len(keys) != 1:
            raise StoreError(f"upsert takes units of one collection, got {sorted(keys)}")
        modality, channel = keys.pop()
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.shape != (len(units), self.encoder(channel).dim):
            raise StoreError(f"embeddings shape {emb.shape} does not match {len(units)} units")
        coll = self.collection(modality, channel)
        for i in range(0, len(units), batch):
            part = units[i : i + batch]
            coll.upsert(
                ids=[u.id for u in part],
                embeddings=emb[i : i + batch],
                metadatas=[u.metadata() for u in part],
                documents=[u.text or "" for u in part],
            )

    def mark_file(self, source: str, source_hash: str, units: int, extra: Mapping[str, Any] | None = None) -> None:
        """Record that every unit of `source` is written (the commit point of a file)."""
        meta = {"source": source, "source_hash": source_hash, "units": units, **(extra or {})}
        self.files().upsert(ids=[source], embeddings=[[0.0]], metadatas=[meta], documents=[""])

    def mark_files(self, records: Sequence[tuple[str, str, int, Mapping[str, Any]]]) -> None:
        """`mark_file` for many files in one write: (source, source_hash, units, extra) each."""
        if not records:
            return
        metas = [{"source": s, "source_hash": h, "units": n, **(extra or {})} for s, h, n, extra in records]
        self.files().upsert(
            ids=[r[0] for r in records], embeddings=[[0.0]] * len(records), metadatas=metas,
            documents=[""] * len(records),
        )

    def file_records(self) -> dict[str, dict[str, Any]]:
        got = self.files().get(include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"])}

    def delete_source(self, source: str) -> int:
        """Remove every unit of `source` from every collection, and its file record."""
        # the record goes first: a kill between the two steps leaves units without a record,
        # which the next ingest deletes and rewrites, never a record vouching for missing units
        self.files().delete(ids=[source])
        removed = 0
        for _, _, coll in self.existing():
            got = coll.get(where={"source": source}, include=[])
            if got["ids"]:
                coll.delete(ids=got["ids"])
                removed += len(got["ids"])
        return removed

    def delete_sources(self, sources: Sequence[str], chunk: int = 200) -> int:
        """`delete_source` for many sources: records first, then units, a chunk of sources per query."""
        removed = 0
        for i in range(0, len(sources), chunk):
            part = list(sources[i : i + chunk])
            self.files().delete(ids=part)
            for _, _, coll in self.existing():
                got = coll.get(where={"source": {"$in": part}}, include=[])
                if got["ids"]:
                    coll.delete(ids=got["ids"])
                    removed += len(got["ids"])
        return removed

    def sources_with_units(self, page: int = 5000) -> set[str]:
        """Every source that has at least one unit in some collection (a full metadata scan)."""
        out: set[str] = set()
        for _, _, coll in self.existing():
            offset = 0
            while True:
                got = coll.get(include=["metadatas"], limit=page, offset=offset)
                out.update(str(m["source"]) for m in got["metadatas"] if m and "source" in m)
                if len(got["ids"]) < page:
                    break
                offset += page
        return out

    def unit_ids(self) -> dict[str, set[str]]:
        """Unit ids per collection name (for checks and tests)."""
        return {collection_name(m, ch): set(coll.get(include=[])["ids"]) for m, ch, coll in self.existing()}

    # -- reading ---------------------------------------------------------------------------
    def query(
        self,
        modality: Modality,
        channel: Channel,
        embeddings: np.ndarray,
        k: int = 10,
        where: Mapping[str, Any] | None = None,
        query_text: str | None = None,
    ) -> list[list[Hit]]:
        """Nearest units in one collection, one hit list per query vector."""
        coll = self.collection(modality, channel, create=False)
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim == 1:
            emb = emb[None, :]
        if coll is None:
            return [[] for _ in range(len(emb))]
        # no count() round trip first: chroma returns at most what the collection holds ([] if empty)
        res = coll.query(
            query_embeddings=emb,
            n_results=max(1, k),
            where=dict(where) if where else None,
            include=["metadatas", "documents", "distances"],
        )
        out: list[list[Hit]] = []
        for ids, metas, docs, dists in zip(res["ids"], res["metadatas"], res["documents"], res["distances"]):
            hits = []
            for rank, (uid, meta, doc, dist) in enumerate(zip(ids, metas, docs, dists), start=1):
                meta = dict(meta or {})
                # model_construct: these are values this store wrote itself (numbers cast below); validating
                # every hit (k x 3 per collection, ~16 us each) was about half of retrieval's Python time
                hits.append(
                    Hit.model_construct(
                        id=uid,
                        modality=meta.get("modality", modality),
                        channel=meta.get("channel", channel),
                        kind=str(meta.get("kind", "")),
                        score=1.0 - float(dist),
                        rank=rank,
                        source=str(meta.get("source", "")),
                        text=doc or None,
                        start=_float_or_none(meta.get("start")),
                        end=_float_or_none(meta.get("end")),
                        entity=meta.get("entity"),
                        loudness_db=_float_or_none(meta.get("loudness_db")),
                        parent_id=meta.get("parent_id"),
                        query=query_text,
                        metadata=meta,
                    )
                )
            out.append(hits)
        return out

    def stats(self) -> dict[str, Any]:
        colls = {}
        entities: set[str] = set()
        for m, ch, coll in self.existing():
            got = coll.get(include=["metadatas"])
            entities.update(str(md["entity"]) for md in got["metadatas"] if md and md.get("entity"))
            colls[collection_name(m, ch)] = {
                "units": len(got["ids"]),
                "encoder": json.loads((coll.metadata or {}).get("mmrag:encoder", "{}")),
            }
        units_per_modality: dict[str, int] = {}
        for name, info in colls.items():
            mod = name.split("-")[0]
            units_per_modality[mod] = units_per_modality.get(mod, 0) + info["units"]
        return {
            "store": str(self.url or self.path),
            "files": len(self.file_records()),
            "units": sum(units_per_modality.values()),
            "units_per_modality": units_per_modality,
            "entities": sorted(entities),
            "collections": colls,
        }


def _float_or_none(x: Any) -> float | None:
    return None if x is None else float(x)
