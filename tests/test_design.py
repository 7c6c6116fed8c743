"""The pipeline designer: rule-based designs of the four example specs, the written files and
config, the LLM path (fake chat model) with its fallback, and a real local LLM (integration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmrag import cli
from mmrag.design import CONFIG_FORMAT, Design, design_from_spec, design_rules, load_config, validate
from mmrag.errors import UserError

SPECS = Path(__file__).resolve().parents[1] / "examples" / "specs"

# spec -> (domain, entity, fusion, kb modalities that must be present, query media that must be present)
EXPECTED = {
    "trip_planning": ("trip planning", "place", "score", {"text", "image", "audio", "video"}, {"speech"}),
    "medical_triage": ("medical triage", "case", "rrf", {"text", "image"}, {"image"}),
    "ecommerce_outfits": ("e-commerce", "product", "score", {"text", "image", "video"}, {"image"}),
    "field_service": ("field service", "machine", "score", {"text", "image", "audio"}, {"image", "sound"}),
}


def test_four_example_specs_exist() -> None:
    assert sorted(p.stem for p in SPECS.glob("*.md")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rules_design_per_spec(name: str) -> None:
    domain, entity, fusion, kb, media = EXPECTED[name]
    d = design_rules((SPECS / f"{name}.md").read_text())
    assert (d.domain, d.entity, d.fusion.strategy, d.designer) == (domain, entity, fusion, "rules")
    assert kb <= set(d.kb_modalities)
    assert media <= set(d.query_modalities)
    patterns = {m.modality: m.encoder_pattern for m in d.modalities}
    assert patterns["text"] == "shared space" and patterns["image"] == "translator"
    if "audio" in patterns:
        assert patterns["audio"] == "model hidden states"
    assert d.fusion.avoids and d.generator.citation_format.count("[") >= 3
    assert d.evaluation.per_modality["text"] and d.evaluation.composite
    validate(d)


def test_spec_specific_choices() -> None:
    trip = design_rules((SPECS / "trip_planning.md").read_text())
    assert "loudness_db < -40" in trip.fusion.filters  # "quiet" is measured, not embedded
    assert trip.fusion.entity_composite
    assert any("luminance" in n for n in trip.notes)  # "natural light" is measured from pixels
    med = design_rules((SPECS / "medical_triage.md").read_text())
    assert med.risk == "high" and med.generator.confidence_threshold > trip.generator.confidence_threshold
    assert any("sensitivity" in g for g in med.evaluation.gates)
    assert "image" in {m.modality for m in med.modalities if "text" in m.channels}  # OCR of forms
    shop = design_rules((SPECS / "ecommerce_outfits.md").read_text())
    assert shop.fusion.weights.get("image", 1.0) > 1.0  # colour/pattern: the photo matters most
    assert any("price" in n for n in shop.notes) and not any("price" in n for n in trip.notes)
    field = design_rules((SPECS / "field_service.md").read_text())
    assert any("never average" in n for n in field.notes)  # two media in one query: late fusion


def test_text_only_spec_stays_text() -> None:
    d = design_rules("# FAQ bot\nCustomers type questions; we search the FAQ documents.")
    assert [m.modality for m in d.modalities] == ["text"] and d.kb_modalities == ["text"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cli_writes_markdown_and_loadable_config(name: str, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / name
    assert cli.main(["design", str(SPECS / f"{name}.md"), "--out", str(out), "--rules"]) == 0
    md = (out / "design.md").read_text()
    for heading in ("## Modalities", "## Fusion", "Failure mode it avoids", "## Generator", "## Evaluation"):
        assert heading in md
    cfg = json.loads((out / "mmrag_config.json").read_text())
    assert cfg["format"] == CONFIG_FORMAT and cfg["ingest"]["encoders"]["text"] == "minilm"
    ctx = load_config(out / "mmrag_config.json")  # the graph's own run configuration
    assert ctx.fusion == EXPECTED[name][2] and set(ctx.modalities) == set(cfg["context"]["modalities"])
    assert "wrote" in capsys.readouterr().out


def test_bad_inputs_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        design_from_spec("   \n")
    assert cli.main(["design", str(tmp_path / "missing.md")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(UserError):
        load_config(bad)


class _FakeStructured:
    def __init__(self, result: Any) -> None:
        self.result = result

    def invoke(self, messages: Any) -> Any:
        assert "designer" in messages[0][1].lower() or "Skill" in messages[0][1]
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _fake_chat(result: Any) -> type:
    class FakeChat:
        def __init__(self, **kwargs: Any) -> None:
            assert kwargs["model"] == "fake-model"

        def with_structured_output(self, schema: type, method: str = "json_schema") -> _FakeStructured:
            assert schema is Design
            return _FakeStructured(result)

    return FakeChat


def test_llm_design_used_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain_openai

    spec = (SPECS / "field_service.md").read_text()
    llm_design = design_rules(spec).model_copy(update={"domain": "field service (llm)"})
    monkeypatch.setattr(langchain_openai, "ChatOpenAI", _fake_chat(llm_design.model_dump()))
    d = design_from_spec(spec, llm_model="fake-model", llm_base_url="http://127.0.0.1:9/v1")
    assert d.designer == "llm (fake-model, json_schema)" and d.domain == "field service (llm)"


@pytest.mark.parametrize("failure", ["error", "unknown-encoder"])
def test_llm_failure_falls_back_to_rules(monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    import langchain_openai

    spec = (SPECS / "trip_planning.md").read_text()
    bad = design_rules(spec)
    bad.modalities[1].encoders = {"image": "no-such-encoder"}
    result = RuntimeError("server down") if failure == "error" else bad
    monkeypatch.setattr(langchain_openai, "ChatOpenAI", _fake_chat(result))
    d = design_from_spec(spec, llm_model="fake-model", llm_base_url="http://127.0.0.1:9/v1")
    assert d.designer.startswith("rules (llm failed")
    assert d.modalities[1].encoders == {"image": "effnet-translator"}


@pytest.mark.integration
@pytest.mark.slow
def test_real_local_llm_designs_or_falls_back(llm_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SmolLM2-135M behind llama.cpp: a valid design either way, labelled with who made it.
    (llama.cpp's server rejects response_format json_schema; the 135M model is too slow and too
    small to fill a Design within the per-attempt timeout, so today this exercises the fallback.)"""
    monkeypatch.setenv("MMRAG_LLM_TIMEOUT", "15")
    spec = (SPECS / "ecommerce_outfits.md").read_text()
    # a small cap: the server stops generating soon after a timed-out attempt, so later tests find it idle
    d = design_from_spec(spec, llm_model=llm_server.model, llm_base_url=llm_server.base_url, llm_max_tokens=64)
    assert d.designer.startswith("llm (") or d.designer.startswith("rules (llm failed")
    validate(d)
    assert d.config()["context"]["encoders"]
