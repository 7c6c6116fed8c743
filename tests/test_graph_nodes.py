"""Every node and router of the graph, with a fake runtime, a hash-encoded store and fake chat models."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Send

from graph_corpus import ENCODERS, build_store
from mmrag.graph import nodes
from mmrag.graph.context import Context
from test_graph_decompose import FakeStructuredChat
from mmrag.graph.models import Decomposition, SubQuery


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("graphstore") / "store"
    build_store(path)
    return str(path)


def rt(store: str | None = None, **kw) -> SimpleNamespace:
    return SimpleNamespace(context=Context(store=store or "/nonexistent", encoders=dict(ENCODERS), **kw))


def sq(text, modality, hop=0, **kw) -> dict:
    return SubQuery(text=text, modality=modality, hop=hop, **kw).model_dump(mode="json")


def test_decompose_reads_the_last_human_message_with_media():
    img = base64.b64encode(b"fake-jpeg").decode()
    msg = HumanMessage(id="m1", content=[
        {"type": "text", "text": "Is it quiet here?"},
        {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{img}"}},
    ])
    out = nodes.decompose({"messages": [msg]}, rt())
    assert out["question"] == "Is it quiet here?" and out["query_image"] == img
    assert out["question_message_id"] == "m1" and out["hits"] is None and out["hops"] == 0
    mods = {(s["modality"], s["media"]) for s in out["sub_queries"]}
    assert ("audio", None) in mods and ("image", "image") in mods and ("video", "image") in mods
    assert out["decomposer"] == "rules" and out["timings"]["__reset__"] is True


def test_decompose_question_key_on_an_answered_thread():
    old = HumanMessage(id="m1", content="old question")
    state = {"messages": [old, AIMessage("old answer")], "question_message_id": "m1", "question": "new vegan menu"}
    assert nodes.read_question(state)[0] == "new vegan menu"
    state["messages"].append(HumanMessage(id="m2", content="newer question"))
    assert nodes.read_question(state)[0] == "newer question"
    with pytest.raises(Exception, match="empty question"):
        nodes.decompose({"messages": [HumanMessage(content="")]}, rt())


def test_decompose_uses_the_llm_when_configured_and_falls_back(monkeypatch):
    good = FakeStructuredChat(Decomposition(sub_queries=[SubQuery(text="x", modality="image")], dominant="image"))
    monkeypatch.setattr(nodes, "make_chat_model", lambda ctx, streaming=True: good)
    runtime = rt(llm_model="m", llm_base_url="http://localhost:1")
    out = nodes.decompose({"question": "what does it look like"}, runtime)
    assert out["decomposer"] == "llm" and out["dominant"] == "image"
    monkeypatch.setattr(nodes, "make_chat_model", lambda ctx, streaming=True: FakeStructuredChat(error=TimeoutError("x")))
    out = nodes.decompose({"question": "what does it look like"}, runtime)
    assert out["decomposer"].startswith("rules (llm failed: TimeoutError")
    assert out["sub_queries"][0]["modality"] == "image"


def test_fan_out_sends_one_branch_per_modality_of_the_current_hop():
    state = {"hops": 1, "query_image": None, "query_audio": None, "sub_queries": [
        sq("a", "text", 0), sq("b", "text", 1), sq("c", "text", 1), sq("d", "audio", 1), sq("e", "video", 1)]}
    sends = nodes.fan_out(state, rt(modalities=["text", "audio"]))
    assert all(isinstance(s, Send) and s.node == "retrieve" for s in sends)
    assert {s.arg["modality"]: [q["text"] for q in s.arg["sub_queries"]] for s in sends} == {"text": ["b", "c"], "audio": ["d"]}
    assert nodes.route_after_reformulate({"hops": 2, "sub_queries": []}, rt()) == "generate"


@pytest.mark.integration  # chromadb on disk
def test_retrieve_branch_applies_filters(store_path):
    payload = {"modality": "audio", "sub_queries": [sq("quiet room", "audio", filters=["loudness_db < -40"])],
               "query_image": None, "query_audio": None}
    out = nodes.retrieve(payload, rt(store_path))
    hits = out["hits"]["audio"]
    assert {h["source"] for h in hits} == {"sounds/verde.flac", "sounds/lumen.flac"}
    assert hits[0]["source"] == "sounds/verde.flac" and hits[0]["query"] == "quiet room"
    assert out["sub_query_best"]["audio:quiet room"] == pytest.approx(hits[0]["score"])
    assert "retrieve:audio" in out["timings"]


def _hitd(i, m, s, entity=None, text=None, rank=1):
    ch = "text" if m == "text" else "image"
    return {"id": i, "modality": m, "channel": ch, "score": s, "rank": rank, "source": f"{i}.x", "entity": entity,
            "text": text, "query": "q"}


def test_fuse_and_check_confidence_and_route():
    state = {"hits": {"text": [_hitd("t1", "text", 0.9, "e"), _hitd("t2", "text", 0.05)],
                      "image": [_hitd("i1", "image", 0.5, "e")]},
             "dominant": "text", "sub_queries": [sq("q", "text"), sq("q", "image")]}
    out = nodes.fuse_node(state, rt())
    assert [f["id"] for f in out["fused"]] == ["t1", "i1"]  # t2 is under the noise floor (0.1)
    assert out["entities"][0]["entity"] == "e" and out["entities"][0]["score"] == pytest.approx(2.25)
    state.update(out)
    conf = nodes.check_confidence(state, rt(confidence_threshold=0.99))
    assert 0 < conf["confidence"] < 0.99 and conf["unsure"] is True
    assert conf["confidence_parts"]["agreement"] == 1.0
    state.update(conf)
    assert nodes.route_confidence({**state, "hops": 0}, rt(max_hops=2)) == "reformulate"
    assert nodes.route_confidence({**state, "hops": 2}, rt(max_hops=2)) == "generate"
    sure = nodes.check_confidence(state, rt(confidence_threshold=0.01))
    assert sure["unsure"] is False and nodes.route_confidence({**state, **sure}, rt()) == "generate"


def test_reformulate_follows_relaxes_and_widens():
    fused = [{"id": "o", "modality": "image", "source": "label.png", "score": 1, "raw_score": 0.3,
              "hit": _hitd("o", "image", 0.3, text="Part XK-4471 label")}]
    out = nodes.reformulate({"question": "what is on the label", "fused": fused, "hits": {},
                             "sub_queries": [sq("label", "image")], "hops": 0}, rt())
    new = [s for s in out["sub_queries"] if s["hop"] == 1]
    assert out["hops"] == 1 and out["followed"] == ["XK-4471"]
    assert {(s["modality"], s["text"]) for s in new} == {("text", "XK-4471"), ("image", "XK-4471")}
    relaxed = nodes.reformulate({"question": "quiet", "fused": [], "hits": {"audio": []}, "hops": 1,
                                 "sub_queries": [sq("quiet", "audio", filters=["loudness_db < -40"])]}, rt())
    assert relaxed["sub_queries"] == [sq("quiet", "audio", hop=2, reason="relaxed ['loudness_db < -40']")]
    widened = nodes.reformulate({"question": "a red bus", "fused": [], "hits": {"text": [_hitd("t", "text", .5)]},
                                 "hops": 0, "sub_queries": [sq("red bus", "text")]}, rt(modalities=["text", "image"]))
    assert [(s["modality"], s["reason"]) for s in widened["sub_queries"]] == [("text", ""), ("image", "widened")]


def _gen_state():
    fused = [
        {"id": "t1", "modality": "text", "source": "a.txt", "score": 1.0, "raw_score": 0.8, "hit": _hitd("t1", "text", 0.8, text="Vegan brunch.")},
        {"id": "i1", "modality": "image", "source": "b.jpg", "score": 0.9, "raw_score": 0.5, "hit": _hitd("i1", "image", 0.5)},
    ]
    return {"question": "brunch?", "fused": fused, "entities": [], "confidence": 0.3, "hops": 2, "unsure": True}


def test_generate_with_a_fake_vlm_checks_citations(monkeypatch):
    seen = {}

    def factory(ctx, streaming=True):
        model = GenericFakeChatModel(messages=iter([AIMessage("Vegan brunch [1], bright room [img 1], a sound [audio 4 at 0:10].")]))
        seen["model"] = model
        return model

    monkeypatch.setattr(nodes, "make_chat_model", factory)
    out = nodes.generate(_gen_state(), rt(llm_model="m", llm_base_url="http://x", send_images=False))
    assert out["extractive"] is False
    assert out["invalid_citations"] == ["[audio 4 at 0:10]"]
    assert [c["marker"] for c in out["citations"]] == ["[1]", "[img 1]"]
    assert "not sure" in out["answer"] and isinstance(out["messages"][0], AIMessage)


def test_generate_falls_back_to_extractive_when_the_endpoint_fails(monkeypatch):
    class Broken:
        def invoke(self, messages):
            raise ConnectionError("refused")

    monkeypatch.setattr(nodes, "make_chat_model", lambda ctx, streaming=True: Broken())
    out = nodes.generate(_gen_state(), rt(llm_model="m", llm_base_url="http://x"))
    assert out["extractive"] is True and "language model failed" in out["answer"]
    assert out["answer"].startswith("Extractive answer") and out["citations"][0]["marker"] == "[1]"
    plain = nodes.generate({**_gen_state(), "unsure": False}, rt())
    assert plain["extractive"] is True and "not sure" not in plain["answer"]


def test_vlm_prompt_delimits_data_and_attaches_images(tmp_path):
    from PIL import Image

    from mmrag.graph.citations import number_evidence
    from mmrag.graph.generate import build_messages
    from mmrag.graph.models import FusedItem

    Image.new("RGB", (4, 4)).save(tmp_path / "b.jpg")
    items = [FusedItem.model_validate(f) for f in _gen_state()["fused"]]
    msgs = build_messages("brunch?", number_evidence(items), Context(media_root=str(tmp_path)))
    parts = msgs[1].content
    assert "<<<DATA" in parts[0]["text"] and "[1] text a.txt" in parts[0]["text"]
    assert parts[-1]["type"] == "image_url" and parts[-1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_reformulate_asks_the_llm_when_no_rule_applies(monkeypatch):
    model = FakeStructuredChat(Decomposition(sub_queries=[SubQuery(text="crimson double-decker", modality="image")],
                                             dominant="image"))
    monkeypatch.setattr(nodes, "make_chat_model", lambda ctx, streaming=True: model)
    state = {"question": "a red bus", "fused": [], "hits": {"image": [_hitd("i", "image", .5)]}, "hops": 0,
             "sub_queries": [sq("red bus", "image")]}
    out = nodes.reformulate(state, rt(modalities=["image"], llm_model="m", llm_base_url="http://x"))
    assert [(s["text"], s["hop"], s["reason"]) for s in out["sub_queries"]][-1] == ("crimson double-decker", 1, "llm rewrite")
    system, human = model.calls[0]
    assert "low confidence" in system.content and "red bus" in human.content


def test_text_only_prompt_is_a_plain_string():
    from mmrag.graph.citations import number_evidence
    from mmrag.graph.generate import build_messages
    from mmrag.graph.models import FusedItem

    items = [FusedItem.model_validate(f) for f in _gen_state()["fused"]]
    msgs = build_messages("brunch?", number_evidence(items), Context(send_images=False), unsure_note="be unsure")
    assert isinstance(msgs[1].content, str) and "<<<DATA" in msgs[1].content and msgs[1].content.endswith("be unsure")


@pytest.mark.integration  # chromadb on disk
def test_missing_collections_are_skipped_without_building_their_encoder(tmp_path):
    from mmrag.encoders import get_encoder
    from mmrag.schemas import Unit
    from mmrag.stores import VectorStore
    from mmrag.tools.retrieval import ModalityRetriever, RetrievalInput, get_store

    vs = VectorStore(path=tmp_path / "s", encoders={"text": "hash-text"})
    unit = Unit(id="u", modality="text", channel="text", kind="chunk", source="a.txt", source_hash="h",
                media_type="text/plain", text="hello world")
    vs.upsert([unit], get_encoder("hash-text").embed_text(["hello world"]))
    store = get_store(str(tmp_path / "s"), encoders={"image": "no-such-encoder"})
    image = ModalityRetriever("image", store)
    image.warm_up()
    assert image.channels() == [] and image.retrieve(RetrievalInput(query="hello")) == []
    assert [h.source for h in ModalityRetriever("text", store).retrieve(RetrievalInput(query="hello"))] == ["a.txt"]
