"""`langgraph dev` for real, driven with langgraph_sdk like Studio's chat does (issue 6).

The server runs from a scratch folder (it writes `.langgraph_api/` there) with the repository's
langgraph.json (relative paths made absolute), a tiny hashed store (MMRAG_STORE) and no LLM
(extractive answers), on a free port that the test checks is really held by its own process.
"""

from __future__ import annotations

import base64
import errno
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import servers
from conftest import REPO, require

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]
GRAPH_ID = "mmrag"
NODES = {"decompose", "retrieve", "fuse", "check_confidence", "reformulate", "generate"}


def scratch_config(workdir: Path) -> Path:
    """The repository's langgraph.json with its relative paths resolved against the repository."""
    src = REPO / "langgraph.json"
    assert src.is_file(), "langgraph.json is missing at the repository root"
    cfg = json.loads(src.read_text())

    def absolute(spec: str) -> str:
        path, sep, attr = spec.partition(":")
        return str((REPO / path).resolve()) + sep + attr if path.startswith(".") else spec

    cfg["dependencies"] = [absolute(d) for d in cfg.get("dependencies", ["."])]
    cfg["graphs"] = {k: absolute(v) if isinstance(v, str) else v for k, v in cfg["graphs"].items()}
    cfg.pop("env", None)  # the test passes its own environment
    out = workdir / "langgraph.json"
    out.write_text(json.dumps(cfg, indent=1))
    return out


@pytest.fixture(scope="module")
def lg_server(tmp_path_factory: pytest.TempPathFactory, tiny_store_dir: Path) -> Iterator[Any]:
    require("langgraph_api", "langgraph dev")
    work = tmp_path_factory.mktemp("langgraph-dev")
    scratch_config(work)
    srv = servers.langgraph_dev(work, env={"MMRAG_STORE": str(tiny_store_dir), "MMRAG_LLM_BASE_URL": "", "OPENAI_BASE_URL": ""})
    srv.start()
    try:
        # the port may silently move when taken: make sure the server answering is ours
        assert servers.owned_by(srv, srv.port), f"port {srv.port} is not held by our langgraph dev:\n{srv.log_tail()}"
        yield srv
    finally:
        code = srv.stop()
        assert not srv.alive, f"langgraph dev still running (exit {code})"
        assert (work / ".langgraph_api").is_dir(), "the server's scratch state should stay in the scratch dir"


@pytest.fixture(scope="module")
def client(lg_server: Any) -> Any:
    from langgraph_sdk import get_sync_client

    return get_sync_client(url=lg_server.url, timeout=120)


def tiny_png() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 160, 60)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def stream_run(client: Any, thread_id: str, assistant_id: str, message: dict[str, Any], **kw: Any) -> list[Any]:
    t0 = time.monotonic()
    parts = list(
        client.runs.stream(
            thread_id, assistant_id, input={"messages": [message]},
            stream_mode=["values", "updates", "messages-tuple"], **kw,
        )
    )  # fmt: skip
    assert time.monotonic() - t0 < 180
    errors = [p.data for p in parts if p.event == "error"]
    assert not errors, errors
    return parts


def test_graph_shape_and_context_schema(client: Any) -> None:
    (assistant,) = client.assistants.search(graph_id=GRAPH_ID, metadata={"created_by": "system"})
    shape = client.assistants.get_graph(assistant["assistant_id"])
    assert {n["id"] for n in shape["nodes"]} == NODES | {"__start__", "__end__"}
    edges = {(e["source"], e["target"]) for e in shape["edges"]}
    assert {("__start__", "decompose"), ("retrieve", "fuse"), ("reformulate", "retrieve"), ("generate", "__end__")} <= edges
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    props = schemas["context_schema"]["properties"]
    for field in ("fusion", "confidence_threshold", "max_hops", "llm_base_url", "llm_model", "store", "chroma_url"):
        assert props[field].get("description"), field
    assert set(props["fusion"]["enum"]) >= {"score", "rrf"}


def test_studio_chat_text_then_image(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # an assistant with its own context, as Studio's assistant editor makes one
    assistant = client.assistants.create(GRAPH_ID, context={"fusion": "rrf", "max_hops": 1, "k": 3}, name="mmrag-rrf")
    aid = assistant["assistant_id"]
    assert client.assistants.get(aid)["context"]["fusion"] == "rrf"
    thread = client.threads.create()
    tid = thread["thread_id"]

    text_msg = {"role": "user", "content": "Where can I hear a dog barking in the park?"}
    parts = stream_run(client, tid, aid, text_msg)
    events = [p.event for p in parts]
    assert {"metadata", "values", "updates", "messages"} <= set(events), events
    updated = [next(iter(p.data)) for p in parts if p.event == "updates"]
    assert updated[0] == "decompose" and updated[-1] == "generate" and "retrieve" in updated and "fuse" in updated
    ai = [p.data[0] for p in parts if p.event == "messages" and p.data[0].get("type") in ("ai", "AIMessageChunk")]
    assert ai and "[audio" in ai[-1]["content"], ai
    final = [p.data for p in parts if p.event == "values"][-1]
    assert final["citations"] and all(c["marker"] in final["answer"] for c in final["citations"])
    assert final["sub_queries"] and final["hits"] and final["fused"] and "confidence" in final and "hops" in final
    assert any(c["source"] == "sounds/bark.flac" for c in final["citations"])

    image_msg = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Which photo shows a dog running with a ball, like this one?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{tiny_png()}"}},
        ],
    }
    parts2 = stream_run(client, tid, aid, image_msg)
    final2 = [p.data for p in parts2 if p.event == "values"][-1]
    assert any(sq.get("media") == "image" for sq in final2["sub_queries"]), final2["sub_queries"]
    assert final2["hits"].get("image"), "the attached image was searched by example"
    assert any(c["modality"] == "image" for c in final2["citations"]), final2["answer"]

    state = client.threads.get_state(tid)
    values = state["values"]
    assert [m["type"] for m in values["messages"]] == ["human", "ai", "human", "ai"]
    assert values["answer"] == values["messages"][-1]["content"]
    for key in ("sub_queries", "hits", "fused", "confidence", "hops", "citations", "timings"):
        assert key in values, key
    history = client.threads.get_history(tid, limit=50)
    assert len(history) >= 2 * 6, len(history)
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]

    with capsys.disabled():  # the SDK transcript, for the record
        print("\n--- Studio-style chat over langgraph_sdk ---")
        for msg in values["messages"]:
            content = msg["content"] if isinstance(msg["content"], str) else [
                p.get("text") or f"<{p['type']} part>" for p in msg["content"]
            ]
            print(f"{msg['type']:>5}: {content}")
        print(f"events run 1: {len(parts)} ({', '.join(sorted(set(events)))}); node order: {updated}")
        print(f"confidence {values['confidence']}, hops {values['hops']}, history {len(history)} checkpoints")


def test_request_cannot_make_server_read_a_local_path(client: Any, tmp_path: Path) -> None:
    """Media is only accepted as base64. A FIFO stands in for a local file: any attempt to open it
    for reading would block the run (no writer), and a reader would be visible to us."""
    canary = tmp_path / "canary.png"
    os.mkfifo(canary)
    thread = client.threads.create()
    (assistant,) = client.assistants.search(graph_id=GRAPH_ID, metadata={"created_by": "system"})
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Describe this image"},
            {"type": "image_url", "image_url": {"url": f"file://{canary}"}},
            {"type": "image_url", "image_url": {"url": str(canary)}},
            {"type": "image", "source_type": "url", "url": f"file://{canary}"},
            {"type": "image", "path": str(canary)},
        ],
    }
    parts: list[Any] = []
    opened: list[float] = []

    def run() -> None:
        parts.extend(
            client.runs.stream(
                thread["thread_id"], assistant["assistant_id"],
                input={"messages": [message], "query_image": str(canary)},
                stream_mode="values",
            )
        )  # fmt: skip

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    deadline = time.monotonic() + 120
    while worker.is_alive() and time.monotonic() < deadline:
        try:  # succeeds only while someone has the FIFO open for reading
            fd = os.open(canary, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            assert exc.errno == errno.ENXIO, exc
        else:
            opened.append(time.monotonic())
            os.write(fd, b"not an image")
            os.close(fd)
        time.sleep(0.05)
    worker.join(timeout=30)
    assert not worker.is_alive(), "the run did not finish"
    assert not opened, "the server opened a local path named in the request"
    final = [p.data for p in parts if p.event == "values"][-1]
    assert not any(sq.get("media") for sq in final.get("sub_queries") or []), "a path was taken as media"
    assert str(canary) not in json.dumps(final.get("hits") or {})
