"""The same stores served by a real `chroma run` and used through HttpClient (issue 6)."""

from __future__ import annotations

import concurrent.futures as cf
from pathlib import Path

import pytest
from conftest import TINY_DOCS, build_tiny_store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_chroma_server_ingest_query_filters(chroma_server, tmp_path: Path) -> None:
    from mmrag.stores.chroma_store import VectorStore

    assert chroma_server.alive
    build_tiny_store(tmp_path / "unused", url=chroma_server.url)
    # a fresh client, as another process would use it
    store = VectorStore(url=chroma_server.url, encoders={"text": "hash-text", "image": "hash-image", "audio": "hash-audio"})
    stats = store.stats()
    assert stats["files"] == len(TINY_DOCS)
    assert stats["units_per_modality"] == {"text": 3, "image": 4, "audio": 4}
    assert not (tmp_path / "unused").exists(), "an HTTP store must not write locally"
    assert (tmp_path / "chroma").is_dir(), "the server persists under --path"

    q = store.encoder("text").embed_text(["dog barking"])
    hits = store.query("audio", "text", q, k=5)[0]
    assert hits[0].source == "sounds/bark.flac"
    quiet = store.query("audio", "text", q, k=5, where={"loudness_db": {"$lt": -40}})[0]
    assert [h.source for h in quiet] == ["sounds/rain.flac"]
    park = store.query("text", "text", q, k=5, where={"entity": "park"})[0]
    assert {h.entity for h in park} == {"park"}
    # the encoder guard holds over HTTP too: another encoder is refused
    from mmrag.stores.chroma_store import EncoderMismatch

    other = VectorStore(url=chroma_server.url, encoders={"text": "minilm"})
    with pytest.raises(EncoderMismatch):
        other.collection("text", "text")


def test_chroma_server_concurrent_searches(chroma_server, tmp_path: Path) -> None:
    from mmrag.stores.chroma_store import VectorStore

    build_tiny_store(tmp_path, url=chroma_server.url)
    questions = {
        "vegan brunch pancakes": "menu.txt",
        "quiet reading room": "hours.txt",
        "dog chasing a ball": "dogs.txt",
        "cafe natural light": "photos/cafe.jpg",
    }

    def search(question: str) -> str:
        store = VectorStore(url=chroma_server.url, encoders={"text": "hash-text", "image": "hash-image", "audio": "hash-audio"})
        best = []
        for modality, channel in (("text", "text"), ("image", "text")):
            best += store.query(modality, channel, store.encoder("text").embed_text([question]), k=1)[0]  # type: ignore[arg-type]
        return max(best, key=lambda h: h.score).source

    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        got = dict(zip(questions, pool.map(search, list(questions) * 2)))
    assert got == questions


def test_chroma_server_concurrent_asks(chroma_server, tmp_path: Path) -> None:
    """Several `ask` calls at once (threads and asyncio) against the same Chroma server."""
    import asyncio

    from mmrag.graph.rag import MultimodalRAG

    build_tiny_store(tmp_path, url=chroma_server.url)
    rag = MultimodalRAG(store=str(tmp_path / "not-used"), chroma_url=chroma_server.url, k=3)
    questions = {
        "Where is a vegan brunch served?": "menu.txt",
        "Which room is quiet for reading?": "hours.txt",
        "Where can I hear a dog barking?": "sounds/bark.flac",
        "Which photo shows a cafe in natural light?": "photos/cafe.jpg",
    }
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        answers = dict(zip(questions, pool.map(rag.ask, questions)))

    async def gather() -> list:
        return await asyncio.gather(*(rag.aask(q) for q in questions))

    answers_async = dict(zip(questions, asyncio.run(gather())))
    for q, source in questions.items():
        for ans in (answers[q], answers_async[q]):
            assert ans.citations, (q, ans.text)
            assert all(c.marker in ans.text for c in ans.citations)
            assert source in {c.source for c in ans.citations}, (q, ans.text)
    assert not (tmp_path / "not-used").exists()
