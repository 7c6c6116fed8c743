"""The graph on a real store ingested (mmrag.api.ingest, real OCR, real MiniLM) from a small subset of
../shared/data plus a rendered label photo and a manual. Image/audio channels use engineer B's
trained heads when they ship, hashed stand-ins otherwise (see graph_real_corpus.encoders)."""

from __future__ import annotations

import shutil

import pytest

import graph_real_corpus as corpus
from mmrag.graph.rag import MultimodalRAG

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not corpus.available(), reason="../shared/data is absent"),
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed"),
]


@pytest.fixture(scope="module")
def rag(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    report = corpus.build_store(corpus.build_corpus(root / "corpus"), root / "store")
    assert report["issues"] == [] and report["units_added"].get("image-text") == 1  # the label's OCR
    return MultimodalRAG(store=root / "store", encoders=corpus.encoders())


def sources(ans) -> list[str]:
    return [c.source for c in ans.citations]


def test_answer_needs_two_modalities(rag):
    ans = rag.ask("What spare part is on the label, and what does the manual say about replacing it?")
    assert {s["modality"] for s in ans.sub_queries} == {"image", "text"}
    assert sources(ans)[:2] == ["parts/label.png", "parts/manual.txt"]
    assert {c.modality for c in ans.citations[:2]} == {"image", "text"}
    assert "QX-5521" in ans.text and "500 operating hours" in ans.text
    assert ans.invalid_citations == [] and ans.hops == 0 and not ans.unsure


@pytest.mark.skipif(not corpus.trained_head("audio"), reason="needs the trained audio encoder to hear a dog")
def test_low_confidence_relaxes_a_filter_then_succeeds(rag):
    # No recording is quieter than -40 dBFS: the filtered audio sub-query finds nothing, confidence is
    # 0, the hop drops the filter and the real audio encoder finds the dog. (The sound head's cosines
    # for a true match are ~0.2, so the threshold is set for that scale: default calibration is not.)
    ans = rag.ask("Where can I hear a quiet dog barking?", confidence_threshold=0.15)
    relaxed = [s for s in ans.sub_queries if s["reason"].startswith("relaxed")]
    assert ans.hops == 1 and relaxed and relaxed[0]["modality"] == "audio" and relaxed[0]["filters"] == []
    assert not ans.unsure and ans.confidence >= 0.15
    assert sources(ans)[0] == "park-kiosk/sound.flac" and ans.citations[0].marker == "[audio 1 at 0:00]"


def test_low_confidence_widens_to_other_modalities_then_succeeds(rag):
    # Only the image channels are searched first; no photo shows grilled fish, so confidence is low;
    # the hop widens to the other modalities (standing in for the image need) and finds the review.
    # The trained image head gives unrelated captions cosines up to ~0.12 (the dog photo scores 0.12
    # here), so the noise floor is set for that scale: the default 0.1 suits MiniLM text.
    ans = rag.ask("A photo of grilled fish and cold lemonade", confidence_threshold=0.6, min_score=0.15)
    assert [s["modality"] for s in ans.sub_queries if s["hop"] == 0] == ["image"]
    widened = [s for s in ans.sub_queries if s["reason"] == "widened"]
    assert ans.hops >= 1 and {s["modality"] for s in widened} >= {"text"}
    assert not ans.unsure and ans.confidence >= 0.6
    assert sources(ans)[0] == "beach-shack/review.txt"


def test_multi_hop_follows_the_ocr_part_number_to_the_manual(rag):
    ans = rag.ask("How often should the spare part on the label photo be replaced?", confidence_threshold=0.8)
    follow = [s for s in ans.sub_queries if s["reason"].startswith("follow")]
    assert ans.hops >= 1 and follow and follow[0]["text"] == "QX-5521"
    assert "ocr of parts/label.png" in follow[0]["reason"]
    assert "parts/label.png" in sources(ans) and "parts/manual.txt" in sources(ans)
    assert "500 operating hours" in ans.text


@pytest.mark.parametrize("fusion", ["rrf", "moe", "attention"])
def test_every_fusion_strategy_answers_from_both_modalities(rag, fusion):
    ans = rag.ask("What spare part is on the label, and what does the manual say about replacing it?", fusion=fusion)
    assert set(sources(ans)[:2]) == {"parts/label.png", "parts/manual.txt"}
    assert ans.invalid_citations == [] and "fuse" in ans.timings
