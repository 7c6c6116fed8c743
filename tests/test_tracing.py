"""Unit tests of graph/tracing.py: media redaction, node metadata, the offline run-tree collector."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.types import Send

from mmrag.graph import tracing

RAW = bytes(range(256)) * 8  # 2 KiB
B64 = base64.b64encode(RAW).decode()
REF = f"<base64 image/png {len(RAW)} bytes sha256:{hashlib.sha256(RAW).hexdigest()[:16]}>"


def test_redact_data_urls_fields_messages_and_sends() -> None:
    msg = HumanMessage(content=[{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}}])
    payload = {
        "messages": [msg],
        "query_image": B64,
        "note": "short text stays",
        "sends": [Send("retrieve", {"modality": "image", "query_image": B64})],
        "repr": f"Send(node='retrieve', arg={{'query_image': '{B64}'}})",
    }
    out = tracing.redact(payload)
    blob = json.dumps(out, default=str)
    assert B64[:200] not in blob
    assert out["messages"][0].content[1]["image_url"]["url"] == REF
    assert out["messages"][0].content[0] == {"type": "text", "text": "hi"}
    assert out["query_image"].startswith(f"<base64 image {len(RAW)} bytes")
    assert out["note"] == "short text stays"
    assert isinstance(out["sends"][0], Send) and out["sends"][0].arg["modality"] == "image"
    assert "<base64" in out["repr"] and B64[:200] not in out["repr"]
    assert payload["query_image"] == B64 and msg.content[1]["image_url"]["url"].startswith("data:"), "input unchanged"


def test_redact_leaves_ordinary_long_text() -> None:
    prose = "A long review of the cafe, with spaces and punctuation. " * 40
    assert tracing.redact({"text": prose}) == {"text": prose}


def test_node_metadata_from_updates() -> None:
    class Ctx:
        fusion, weights, normalisation, dominant_bias, confidence_threshold = "rrf", {"image": 2.0}, "minmax", 0.25, 0.5

    upd = {"hits": {"audio": [{"id": "a1", "score": 0.91234567}]}, "timings": {}}
    md = tracing.node_metadata("retrieve", upd, {"modality": "audio", "sub_queries": [{"modality": "audio", "text": "dog"}]}, Ctx())
    assert md["mmrag.hits"] == {"audio": [["a1", 0.9123]]}
    assert md["mmrag.modality"] == "audio" and md["mmrag.fusion"]["weights"] == {"image": 2.0}
    conf = tracing.node_metadata("check_confidence", {"confidence": 0.4, "unsure": True}, {"hops": 1}, Ctx())
    assert conf["mmrag.confidence"] == 0.4 and conf["mmrag.unsure"] and conf["mmrag.hop"] == 1 and conf["mmrag.threshold"] == 0.5
    gen = tracing.node_metadata("generate", {"citations": [{"marker": "[1]", "id": "t1", "modality": "text", "source": "a.txt"}]}, {}, None)
    assert gen["mmrag.citations"] == [{"marker": "[1]", "id": "t1", "modality": "text", "source": "a.txt"}]
    assert tracing.node_metadata("fan_out", "generate", {}, None)["mmrag.route"] == "generate"


def test_annotate_is_a_no_op_without_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.delenv("LANGCHAIN_TRACING_V2", raising=False)
    assert tracing.annotate("fuse", {"fused": []}) is None
    calls = []
    wrapped = tracing.traced(lambda state: calls.append(state) or {"x": 1}, name="fuse")
    assert wrapped({"a": 1}) == {"x": 1} and calls == [{"a": 1}]


def test_collector_writes_the_run_tree(tiny_store_dir: Path, tmp_path: Path) -> None:
    from mmrag.graph.context import Context
    from mmrag.graph.graph import graph

    ctx = Context(store=str(tiny_store_dir), fusion="rrf")
    col = tracing.make_collector(ctx)
    graph.invoke({"messages": [{"role": "user", "content": "a dog barking in the park"}]}, context=ctx, config={"callbacks": [col]})
    (root,) = json.loads(col.write(tmp_path / "trace.json").read_text())["runs"]
    assert root["name"] == "mmrag" and root["parent_id"] is None
    names = [c["name"] for c in root["children"]]
    assert names[0] == "decompose" and names[-1] == "generate" and "retrieve" in names and "fuse" in names
    assert all(c["parent_id"] == root["id"] for c in root["children"])
    fuse = next(c for c in root["children"] if c["name"] == "fuse")
    assert fuse["metadata"]["mmrag.fusion"]["strategy"] == "rrf" and fuse["metadata"]["mmrag.fused"]
    gen = root["children"][-1]
    assert gen["metadata"]["mmrag.citations"] and "mmrag:generate" in gen["tags"]
