"""Server mode reads no local path named in a request; ingestion stays inside its root unless told
to follow links. File opens are observed with a `sys.audit` hook, so "never read" is checked
directly, not inferred from the output."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from langchain_core.messages import HumanMessage

from mmrag.errors import UserError
from mmrag.evals.reliability_files import jpeg_bytes
from mmrag.evals.reliability_store import HASH_ENCODERS, build_store

_WATCH: dict[str, Any] = {"paths": set(), "seen": [], "on": False}
_LOCK = threading.Lock()


def _hook(event: str, args: tuple) -> None:
    if event == "open" and _WATCH["on"] and args and isinstance(args[0], (str, bytes, os.PathLike)):
        p = os.fsdecode(args[0]) if not isinstance(args[0], os.PathLike) else os.fspath(args[0])
        if any(str(p).startswith(w) for w in _WATCH["paths"]):
            with _LOCK:
                _WATCH["seen"].append(str(p))


sys.addaudithook(_hook)


@pytest.fixture()
def watch() -> Iterator[Any]:
    def start(*paths: Path) -> list[str]:
        _WATCH["paths"] = {str(p) for p in paths} | {str(p.resolve()) for p in paths}
        _WATCH["seen"] = []
        _WATCH["on"] = True
        return _WATCH["seen"]

    yield start
    _WATCH["on"] = False


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("paths") / "store"
    build_store(path)
    return path


@pytest.fixture()
def secrets(tmp_path: Path) -> dict[str, Path]:
    img = tmp_path / "secret.jpg"
    img.write_bytes(jpeg_bytes())
    txt = tmp_path / "secret.txt"
    txt.write_text("the password is hunter2\n")
    return {"image": img, "text": txt}


def test_server_mode_graph_reads_no_path_from_messages(store_dir: Path, secrets: dict[str, Path], watch: Any) -> None:
    from mmrag.graph.context import Context
    from mmrag.graph.graph import build_graph

    graph = build_graph()
    ctx = Context(store=str(store_dir), encoders=HASH_ENCODERS, generator="extractive", decomposer="rules", max_hops=0)
    img, txt = secrets["image"], secrets["text"]
    contents: list[Any] = [
        [{"type": "text", "text": "what is in this picture"}, {"type": "image_url", "image_url": {"url": str(img)}}],
        [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": f"file://{img}"}}],
        [{"type": "text", "text": "and this"}, {"type": "image_url", "image_url": str(img)}],
        [{"type": "text", "text": "listen"}, {"type": "audio", "url": str(txt), "path": str(txt)}],
        [{"type": "text", "text": "read"}, {"type": "file", "file": {"path": str(txt)}}],
        f"summarise {txt} and {img} for me",
    ]
    seen = watch(img, txt)
    outcomes = []
    for content in contents:
        try:
            state = graph.invoke({"messages": [HumanMessage(content=content)]}, context=ctx)
            outcomes.append(state.get("answer", ""))
        except UserError as exc:
            outcomes.append(f"error: {exc}")
    assert seen == [], f"server mode opened local paths named in requests: {seen}"
    assert all("hunter2" not in o for o in outcomes)
    assert len(outcomes) == len(contents)


def test_server_mode_retrieval_tools_refuse_paths(store_dir: Path, secrets: dict[str, Path], watch: Any) -> None:
    from mmrag.tools.retrieval import as_tools, get_store

    tools = as_tools(store=get_store(str(store_dir), None, HASH_ENCODERS), local=False)
    seen = watch(secrets["image"])
    for tool in tools:
        with pytest.raises(UserError, match="only allowed in local mode"):
            tool.invoke({"path": str(secrets["image"]), "media_kind": "image"})
    assert seen == []


def test_local_mode_does_read_the_path(store_dir: Path, secrets: dict[str, Path], watch: Any) -> None:
    """The watcher works: in local mode the same request opens the file."""
    from mmrag.tools.retrieval import as_tools, get_store

    tools = {t.name: t for t in as_tools(store=get_store(str(store_dir), None, HASH_ENCODERS), local=True)}
    seen = watch(secrets["image"])
    tools["search_image"].invoke({"path": str(secrets["image"]), "media_kind": "image"})
    assert seen, "the audit hook saw no open; the server-mode tests above would prove nothing"


@pytest.fixture()
def linked_root(tmp_path: Path) -> dict[str, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "docs").mkdir(parents=True)
    (outside / "dir").mkdir(parents=True)
    (root / "docs" / "inside.txt").write_text("The lighthouse opens on Sundays.\n")
    (outside / "secret.txt").write_text("the password is hunter2\n")
    (outside / "dir" / "more.txt").write_text("more secrets here\n")
    os.symlink(outside / "secret.txt", root / "docs" / "link.txt")
    os.symlink(outside / "dir", root / "linked_dir")
    os.symlink(root / "docs" / "inside.txt", root / "alias.txt")  # a link that stays inside
    return {"root": root, "outside": outside}


@pytest.mark.integration
def test_ingestion_stays_inside_the_root(linked_root: dict[str, Path], tmp_path: Path, watch: Any) -> None:
    from mmrag.api import ingest
    from mmrag.evals.reliability_kill import snapshot

    seen = watch(linked_root["outside"])
    report = ingest(linked_root["root"], str(tmp_path / "store"), encoders=HASH_ENCODERS, ocr=False, transcripts=False)
    records = snapshot(tmp_path / "store").records
    assert seen == [], f"ingestion opened files outside its root: {seen}"
    assert "docs/inside.txt" in records and "docs/link.txt" not in records
    assert not any(s.startswith("linked_dir") for s in records)
    reasons = {i.path: i.reason for i in report.issues}
    assert "outside" in reasons.get("docs/link.txt", "")


@pytest.mark.integration
def test_ingestion_follows_links_when_told(linked_root: dict[str, Path], tmp_path: Path) -> None:
    from mmrag.api import ingest
    from mmrag.evals.reliability_kill import snapshot

    ingest(linked_root["root"], str(tmp_path / "store"), encoders=HASH_ENCODERS, follow_links=True, ocr=False,
           transcripts=False)
    records = snapshot(tmp_path / "store").records
    assert {"docs/inside.txt", "docs/link.txt", "linked_dir/more.txt"} <= set(records)


def test_server_mode_requests_cannot_choose_store_or_media_paths(store_dir: Path, tmp_path: Path, watch: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from mmrag.graph.graph import build_graph

    other = tmp_path / "other-store"
    other.mkdir()
    monkeypatch.setenv("MMRAG_SERVER_MODE", "1")
    monkeypatch.setenv("MMRAG_STORE", str(store_dir))
    monkeypatch.delenv("MMRAG_CHROMA_URL", raising=False)
    graph = build_graph()
    base = {"encoders": HASH_ENCODERS, "generator": "extractive", "decomposer": "rules", "max_hops": 0}
    msg = {"messages": [HumanMessage(content="when does the ferry leave")]}
    seen = watch(other)
    for bad in ({"store": str(other)}, {"media_root": "/"}, {"chroma_url": "http://127.0.0.1:1"}):
        with pytest.raises(UserError, match="server mode"):
            graph.invoke(msg, context={**base, **bad})
    assert seen == [] and list(other.iterdir()) == []  # nothing opened or created there
    assert graph.invoke(msg, context=base)["citations"]  # the server's own store still answers
    monkeypatch.setenv("MMRAG_SERVER_MODE", "0")  # the CLI and the Python API may choose their store
    assert graph.invoke(msg, context={**base, "store": str(store_dir)})["citations"]
