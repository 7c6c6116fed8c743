"""Rule-based and LLM (fake chat model) decomposition, and filter parsing."""

from __future__ import annotations

import pytest
from langchain_core.runnables import RunnableLambda

from mmrag.errors import UserError
from mmrag.graph.decompose import llm_decompose, rule_decompose
from mmrag.graph.models import Decomposition, SubQuery
from mmrag.tools.filters import build_where, parse_filter


class FakeStructuredChat:
    """A chat model whose structured output is preset (or raises)."""

    def __init__(self, result=None, error: Exception | None = None) -> None:
        self.result, self.error, self.calls = result, error, []

    def with_structured_output(self, schema):
        def run(messages):
            self.calls.append(messages)
            if self.error:
                raise self.error
            return self.result

        return RunnableLambda(run)


def test_rules_split_a_cross_modal_question():
    d = rule_decompose("Which cafe is quiet, has natural light and serves a vegan brunch?")
    by = {s.modality: s for s in d.sub_queries}
    assert set(by) == {"audio", "image", "text"}
    assert by["audio"].filters == ["loudness_db < -40"]
    assert "natural light" in by["image"].text and by["image"].filters == []
    assert "vegan brunch" in by["text"].text
    assert d.dominant == "text"


def test_rules_loud_video_and_no_cue():
    d = rule_decompose("a loud video of a crowd")
    assert {s.modality for s in d.sub_queries} == {"audio", "video"}
    assert [s.filters for s in d.sub_queries if s.modality == "audio"] == [["loudness_db > -20"]]
    broad = rule_decompose("a man riding a bike")
    assert [s.modality for s in broad.sub_queries] == ["text", "image", "audio", "video"]
    assert broad.sub_queries[0].text == "man riding bike"


def test_rules_media_and_modalities():
    d = rule_decompose("", has_image=True, modalities=["text", "image"])
    assert [(s.modality, s.media) for s in d.sub_queries] == [("image", "image")]
    assert d.dominant == "image"
    with pytest.raises(ValueError):
        rule_decompose("")


def test_llm_decompose_validates_and_sanitises():
    result = Decomposition(
        sub_queries=[
            SubQuery(text="quiet room", modality="audio", filters=["loudness_db < -40", "rm -rf / == 1"]),
            SubQuery(text="menu", modality="video"),
        ],
        dominant="video",
    )
    model = FakeStructuredChat(result)
    d = llm_decompose("quiet place with a menu?", model, modalities=["text", "image", "audio"])
    assert [s.modality for s in d.sub_queries] == ["audio"]  # video is not searched
    assert d.sub_queries[0].filters == ["loudness_db < -40"]  # the malformed filter is dropped
    assert d.dominant == "audio"
    system, human = model.calls[0]
    assert "DATA" in human.content and "quiet place with a menu?" in human.content


def test_llm_decompose_raises_on_model_failure():
    with pytest.raises(RuntimeError):
        llm_decompose("q", FakeStructuredChat(error=RuntimeError("server down")))


def test_filters_parse_safely():
    assert parse_filter("loudness_db < -40") == {"loudness_db": {"$lt": -40.0}}
    assert parse_filter("entity == 'cafe-3'") == {"entity": {"$eq": "cafe-3"}}
    for bad in ["loudness_db < loud", "__import__('os') < 1", "entity < 3", "nonsense"]:
        with pytest.raises(UserError):
            parse_filter(bad)
    assert build_where() is None
    assert build_where(["start >= 10"], entity="e", time_end=20) == {
        "$and": [{"start": {"$gte": 10.0}}, {"entity": {"$eq": "e"}}, {"start": {"$lte": 20.0}}]
    }


def test_structured_output_falls_back_to_a_json_object_request():
    """A server that rejects the json_schema method (llama.cpp) is asked with response_format
    json_object + schema, and the JSON reply is parsed into the pydantic model."""
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    class NoJsonSchema(GenericFakeChatModel):
        def with_structured_output(self, schema, **kw):
            return RunnableLambda(lambda _: (_ for _ in ()).throw(RuntimeError("json_schema unsupported")))

    reply = Decomposition(sub_queries=[SubQuery(text="dog", modality="audio")], dominant="audio").model_dump_json()
    d = llm_decompose("a dog?", NoJsonSchema(messages=iter([AIMessage(reply)])))
    assert [(s.modality, s.text) for s in d.sub_queries] == [("audio", "dog")] and d.dominant == "audio"
