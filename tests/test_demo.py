"""`mmrag demo` plumbing with model-free encoders, and the bundled city guide's own properties
(entities, loudness, OCR-readable menu, size, reproducibility). The real end-to-end run from a
clean clone is in test_demo_clone.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmrag import cli
from mmrag.demo import DEFAULT_QUESTION, DemoResult, city_guide_dir, render, run_demo
from mmrag.errors import UserError

HASH = {"text": "hash-text", "image": "hash-image", "audio": "hash-audio"}
GUIDE = Path(__file__).resolve().parents[1] / "examples" / "city_guide"


def test_city_guide_is_small_with_sources_and_entities() -> None:
    places = city_guide_dir()
    assert places == GUIDE / "places"
    files = [p for p in GUIDE.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 5 * 1024 * 1024
    sources = (GUIDE / "SOURCES.md").read_text()
    for p in files:
        if p.parent.parent == places:  # every media file is named (by path or by a */ pattern)
            rel = p.relative_to(places).as_posix()
            assert rel in sources or f"*/{p.name}" in sources, rel
    from mmrag.stores.discover import EntityResolver

    res = EntityResolver(places)
    ents = {res.entity(p) for p in places.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert ents == {"Sunny Side Cafe", "Night Owl Bistro", "Harbour Grill", "Cat Corner Cafe", "Garden Terrace"}
    kinds = {p.suffix for p in places.rglob("*")}
    assert {".md", ".jpg", ".flac", ".mp4"} <= kinds


def test_ambient_loudness_differs() -> None:
    import soundfile as sf

    def dbfs(p: Path) -> float:
        x, _ = sf.read(str(p), dtype="float32")
        return float(20 * np.log10(np.sqrt(np.mean(x**2))))

    quiet = dbfs(city_guide_dir() / "sunny_side/room_tone.flac")
    loud = dbfs(city_guide_dir() / "night_owl/saturday_brunch.flac")
    assert quiet < -45 and loud > -20


@pytest.mark.integration
def test_menu_photo_is_readable_by_ocr() -> None:
    if not shutil.which("tesseract"):
        pytest.skip("tesseract not installed")
    import subprocess

    out = subprocess.run(["tesseract", str(city_guide_dir() / "sunny_side/menu.jpg"), "-"],
                         capture_output=True, text=True, check=True).stdout
    assert "VEGAN BRUNCH MENU" in out


@pytest.fixture(scope="module")
def hashed_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, Path]:
    store = tmp_path_factory.mktemp("demo-store")
    result = run_demo(store=store, encoders=HASH, progress=False, context={"min_score": -1.0},
                      ocr=False, transcripts=False)
    return result, store


def test_demo_ranks_places_and_cites_retrieved_items(hashed_demo: tuple[DemoResult, Path]) -> None:
    result, store = hashed_demo
    assert result.built and result.question == DEFAULT_QUESTION
    assert len(result.places) >= 2
    scores = [p.score for p in result.places]
    assert scores == sorted(scores, reverse=True)
    for p in result.places:  # the composite is the sum of its per-modality parts
        assert abs(p.score - sum(p.contributions.values())) < 1e-6
    from mmrag.stores.chroma_store import VectorStore

    vs = VectorStore(store, encoders=HASH)
    ids = {i for _, _, c in vs.existing() for i in c.get(include=[])["ids"]}
    cites = result.answer_json["citations"]
    assert cites and all(c["id"] in ids for c in cites)
    assert set(result.answer_json) >= {"answer", "citations", "confidence", "hops", "timings", "sub_queries"}
    for c in cites:
        assert c["marker"] in result.answer_json["answer"]
    text = render(result)
    assert "Places by composite score" in text and result.places[0].entity in text


def test_second_run_reuses_the_store(hashed_demo: tuple[DemoResult, Path]) -> None:
    _, store = hashed_demo
    again = run_demo(store=store, encoders=HASH, progress=False, context={"min_score": -1.0},
                     ocr=False, transcripts=False)
    assert not again.built and again.ingest_seconds < 10


def test_cli_demo_json_matches_ask_json_shape(hashed_demo: tuple[DemoResult, Path], capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, store = hashed_demo
    import mmrag.demo as demo

    real = demo.run_demo
    monkeypatch.setattr(demo, "run_demo", lambda **kw: real(**kw, encoders=HASH, progress=False,
                                                             context={"min_score": -1.0}, ocr=False, transcripts=False))
    assert cli.main(["demo", "--json", "--store", str(store)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["citations"] and "answer" in data and "text" not in data


def test_rebuild_refuses_a_folder_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("do not delete")
    with pytest.raises(UserError):
        run_demo(store=tmp_path, rebuild=True, encoders=HASH, progress=False)
    assert (tmp_path / "precious.txt").exists()


def test_missing_data_is_a_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import mmrag.demo as demo

    monkeypatch.setattr(demo, "REPO", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MMRAG_DEMO_DATA", raising=False)
    with pytest.raises(UserError):
        demo.city_guide_dir()


@pytest.mark.slow
def test_store_built_by_other_encoders_is_rebuilt(tmp_path: Path) -> None:
    first = run_demo(store=tmp_path, encoders=HASH, progress=False, context={"min_score": -1.0},
                     ocr=False, transcripts=False)
    other = {**HASH, "text": "minilm"}
    again = run_demo(store=tmp_path, encoders=other, progress=False, context={"min_score": -1.0},
                     ocr=False, transcripts=False)
    assert first.built and again.built  # the mismatch was detected and the store rebuilt
    from mmrag.stores.chroma_store import VectorStore

    stats = VectorStore(tmp_path, encoders=other).stats()
    assert stats["collections"]["text-text"]["encoder"]["name"] == "minilm"


@pytest.mark.slow
def test_untrained_translators_fall_back_to_stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mmrag.demo as demo

    monkeypatch.setattr(demo, "missing_encoders", lambda: {"image": "effnet-translator: head weights not found",
                                                           "audio": "whisper-translator: head weights not found"})
    result = demo.run_demo(store=tmp_path, progress=False, ocr=False, transcripts=False)
    assert any("hash-image" in n and "OCR" in n for n in result.notes)
    assert any("hash-audio" in n and "transcripts" in n for n in result.notes)
    assert "note: effnet-translator" in result.text
    from mmrag.stores.chroma_store import VectorStore

    colls = VectorStore(tmp_path, encoders=demo.FALLBACK).stats()["collections"]
    assert colls["image-image"]["encoder"]["name"] == "hash-image"
    assert colls["text-text"]["encoder"]["name"] == "minilm"
