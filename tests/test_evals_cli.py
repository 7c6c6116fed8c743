"""End to end: `mmrag eval retrieval|fusion --limit` with the hash encoders writes the report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmrag.cli import main
from mmrag.evals.data import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "flickr8k").exists(), reason="evaluation data not present")
HASH = "text=hash-text,image=hash-image,audio=hash-audio"
NAMES = {"recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_CACHE", str(tmp_path / "cache"))


def test_eval_retrieval_writes_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert main(["eval", "retrieval", "--bench", "flickr8k", "--split", "test", "--limit", "8",
                 "--encoders", HASH, "--report", str(out)]) == 0
    assert "| flickr8k text->image | 8 |" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"text->image", "image->text"}
    for figs in metrics.values():
        assert set(figs) == NAMES and all(0.0 <= v <= 1.0 for v in figs.values())
    details = json.loads((out / "details.json").read_text())
    assert len(details["data_sha256"]["*"]) == 64 and details["encoders"]["image"]["name"] == "hash-image"
    report = (out / "report.md").read_text()
    assert "sha256" in report and "80.5" in report  # data hash and the published reference
    png = (out / "recall_at_k.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # cached embeddings make a rerun identical
    assert main(["eval", "retrieval", "--bench", "flickr8k", "--limit", "8", "--encoders", HASH, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == metrics


def test_eval_fusion_mixed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fus"
    assert main(["eval", "fusion", "--bench", "mixed", "--limit", "4", "--encoders", HASH, "--report", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "mixed" in metrics and "mixed:text->video" in metrics
    for strategy in ("score-minmax", "score-zscore", "rrf", "only-text"):
        assert set(metrics["mixed"][strategy]) == NAMES
    assert (out / "fusion.png").exists() and (out / "recall_at_k.png").exists()
    assert "Routing" in (out / "report.md").read_text()


def test_bad_input_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "retrieval", "--bench", "audiocaps", "--split", "train", "--encoders", HASH]) == 2
    assert main(["eval", "retrieval", "--bench", "flickr8k", "--encoders", "image=nope"]) == 2
    assert "not registered" in capsys.readouterr().err


def test_encoders_with_the_same_text_model_share_the_text_cache() -> None:
    from mmrag.encoders import get_encoder
    from mmrag.encoders.hashing import HashEncoder
    from mmrag.evals.embed import EmbeddingCache

    class Translatorish(HashEncoder):
        def config(self) -> dict:
            return {**super().config(), "text_model": "sentence-transformers/all-MiniLM-L6-v2"}

    minilm, other = get_encoder("minilm"), Translatorish(channel="image")
    assert EmbeddingCache(minilm, "text").path == EmbeddingCache(other, "text").path
    assert EmbeddingCache(other, "image").path != EmbeddingCache(HashEncoder(channel="image"), "image").path
    assert EmbeddingCache(get_encoder("hash-text"), "text").path != EmbeddingCache(minilm, "text").path
