"""The compiled graph end to end on a hash-encoded synthetic store: cross-modal answers, a
follow-the-evidence hop, bounded hops, the Mermaid shape, threads, streaming, CLI and tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graph_corpus import ENCODERS, build_store
from mmrag.errors import UserError
from mmrag.graph.context import Context
from mmrag.graph.graph import build_graph, graph
from mmrag.graph.rag import MultimodalRAG

pytestmark = pytest.mark.integration  # chromadb on disk (hash encoders, no model)

CROSS = "Which cafe is quiet, has natural light and serves a vegan brunch?"
HOP = "How often must the thing on the label be swapped?"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "store"
    build_store(path)
    return str(path)


def ctx(store: str, **kw) -> Context:
    return Context(store=store, encoders=dict(ENCODERS), **kw)


def test_mermaid_snapshot():
    expected = (Path(__file__).parent / "snapshots" / "graph.mmd").read_text()
    assert graph.get_graph().draw_mermaid() == expected


def test_cross_modal_question_cites_three_modalities_of_one_entity(store_path):
    out = graph.invoke({"messages": [("user", CROSS)]}, context=ctx(store_path))
    assert out["entities"][0]["entity"] == "cafe-verde"
    cited = {(c["modality"], c["source"]) for c in out["citations"]}
    assert {("text", "reviews/verde.txt"), ("image", "photos/verde.jpg"), ("audio", "sounds/verde.flac")} <= cited
    assert out["invalid_citations"] == [] and out["hops"] == 0 and not out["unsure"]
    assert "[audio 1 at 0:00]" in out["answer"] and out["answer"].startswith("Extractive answer")
    assert set(out["timings"]) >= {"decompose", "retrieve:text", "retrieve:image", "retrieve:audio", "fuse",
                                   "check_confidence", "generate"}
    assert out["messages"][-1].content == out["answer"]


def test_low_confidence_follows_the_label_to_the_manual(store_path):
    out = graph.invoke({"messages": [("user", HOP)]}, context=ctx(store_path))
    assert out["hops"] == 1 and out["followed"] == ["XK-4471"]
    assert out["confidence"] >= 0.5 and not out["unsure"]
    sources = [c["source"] for c in out["citations"]]
    assert "photos/label.png" in sources and "manuals/xk4471.txt" in sources
    assert "replace every 2 years" in out["answer"]


def test_hops_are_bounded_and_the_answer_says_it_is_unsure(store_path):
    out = graph.invoke({"messages": [("user", HOP)]}, context=ctx(store_path, max_hops=0))
    assert out["hops"] == 0 and out["unsure"] and "not sure" in out["answer"]
    out = graph.invoke({"messages": [("user", "zebra xylophone quartz")]},
                       context=ctx(store_path, max_hops=2, confidence_threshold=0.999))
    assert out["hops"] == 2 and out["unsure"] and "after 2 reformulation hop(s)" in out["answer"]


def test_threads_persist_in_sqlite_and_streaming_reports_nodes(store_path, tmp_path):
    db = tmp_path / "threads.sqlite"
    rag = MultimodalRAG(store=store_path, encoders=ENCODERS, checkpoint=db)
    first = rag.ask(CROSS, thread_id="t1")
    assert first.citations and first.thread_id == "t1"
    events = list(rag.stream(HOP, thread_id="t1"))
    nodes = [n for mode, p in events if mode == "updates" for n in p]
    assert nodes[0] == "decompose" and "reformulate" in nodes and nodes[-1] == "generate"
    assert events[-1][0] == "answer" and events[-1][1].hops == 1
    again = MultimodalRAG(store=store_path, encoders=ENCODERS, checkpoint=db)
    state = again.graph.get_state({"configurable": {"thread_id": "t1"}}).values
    assert len(state["messages"]) == 4 and state["question"] == HOP


def test_image_question_and_local_paths(store_path, tmp_path):
    from PIL import Image

    img = tmp_path / "q.png"
    Image.new("RGB", (16, 16), (200, 200, 150)).save(img)
    rag = MultimodalRAG(store=store_path, encoders=ENCODERS)
    ans = rag.ask("", image=img)
    assert {s["media"] for s in ans.sub_queries} == {"image"} and ans.text
    with pytest.raises(UserError):
        rag.ask("")
    tools = {t.name: t for t in rag.as_tools(local=False)}
    with pytest.raises(UserError, match="local mode"):
        tools["search_image"].invoke({"path": str(img)})
    got = tools["search_audio"].invoke({"query": "quiet", "filters": ["loudness_db < -40"], "k": 1})
    assert [h["source"] for h in got["hits"]] == ["sounds/verde.flac"]
    assert [h.source for h in rag.search("XK-4471", modality="text", k=1)] == ["manuals/xk4471.txt"]


def test_cli_ask_json_and_trace(store_path, tmp_path, capsys):
    from mmrag.cli import main

    trace = tmp_path / "trace.json"
    enc = [f"{k}={v}" for k, v in ENCODERS.items()]
    assert main(["ask", CROSS, "--store", store_path, "--encoders", *enc, "--json", "--trace", str(trace)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"answer", "citations", "confidence", "hops", "timings"} <= set(data)
    assert {"marker", "id", "modality", "source", "start", "end"} <= set(data["citations"][0])
    traced = json.loads(trace.read_text())
    assert [e["node"] for e in traced["events"]][0] == "decompose" and traced["runs"]
    assert main(["ask", "x", "--store", str(tmp_path / "missing")]) == 2


def test_graph_usable_as_a_subgraph(store_path):
    from langgraph.graph import START, StateGraph

    from mmrag.graph.state import State

    parent = StateGraph(State, context_schema=Context)
    parent.add_node("rag", build_graph())
    parent.add_edge(START, "rag")
    out = parent.compile().invoke({"messages": [("user", CROSS)]}, context=ctx(store_path))
    assert out["citations"] and out["answer"]
