"""`search` (API and CLI) over a store ingested from generated files with hashed encoders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest_media import HASH_ENCODERS, mixed_folder, sine_wav
from mmrag.api import ingest, search
from mmrag.cli import main
from mmrag.errors import UserError


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("search")
    data = mixed_folder(base / "data", n_texts=2, n_images=3)
    (data / "docs" / "manifest.json").write_text(json.dumps({"entities": {"page.html": "cafe-rosa"}}))
    rep = ingest(data, base / "st", encoders=HASH_ENCODERS, ocr=False, transcripts=False)
    assert rep.issues == []
    return data, base / "st"


def test_text_query_across_modalities(store: tuple[Path, Path]) -> None:
    _, st = store
    hits = search("Cafe Rosa serves coffee", store=st, k=5)
    assert hits[0].source == "docs/page.html" and hits[0].modality == "text" and hits[0].entity == "cafe-rosa"
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert {h.modality for h in search("tone", store=st, k=50)} >= {"text", "image", "audio", "video"}
    only_audio = search("tone", modality="audio", store=st, k=10)
    assert only_audio and {h.modality for h in only_audio} == {"audio"}


def test_where_filter_and_espresso_chunks(store: tuple[Path, Path]) -> None:
    _, st = store
    hits = search("espresso machine descaling", modality="text", k=3, store=st)
    assert hits[0].source.startswith("docs/note") and "descaling" in (hits[0].text or "")
    filtered = search("espresso machine", where={"entity": "cafe-rosa"}, store=st, k=10)
    assert filtered and {h.source for h in filtered} == {"docs/page.html"}


def test_image_and_audio_queries(store: tuple[Path, Path], tmp_path: Path) -> None:
    data, st = store
    hits = search(image=data / "photos" / "img2.png", store=st, k=3)
    assert hits[0].source == "photos/img2.png" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert {h.channel for h in hits} == {"image"}
    q = sine_wav(tmp_path / "q.wav", seconds=10.0)  # the same tone as tone.wav's first segment
    hits = search(audio=q, store=st, k=2, modality="audio")
    assert hits[0].source == "tone.wav" and hits[0].start == 0.0 and hits[0].score > 0.99


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one"),
        ({"query": "a", "image": "x.png"}, "exactly one"),
        ({"query": "   "}, "empty"),
        ({"image": "/no/such.png"}, "no such image"),
        ({"audio": "/no/such.wav"}, "no such audio"),
        ({"query": "a", "modality": "smell"}, "unknown modality"),
        ({"query": "a", "k": 0}, "k must be"),
        ({"query": "a", "where": {"$bogus": [1]}}, "bad filter"),
    ],
)
def test_bad_queries_are_user_errors(store: tuple[Path, Path], kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        search(store=store[1], **kwargs)


def test_cli_search_and_stats_infer_the_store_encoders(store: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, st = store
    # no --encoders: the store's own (hash) encoders are used, not the defaults
    assert main(["search", "Cafe Rosa coffee", "--store", str(st), "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and hits[0]["source"] == "docs/page.html"
    assert main(["search", "tone", "--store", str(st), "--modality", "video", "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert "video/" in out and "clip.mp4" in out
    assert main(["stats", "--json", "--store", str(st)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["files"] == 10 and stats["entities"] == ["cafe-rosa"]
    assert set(stats["units_per_modality"]) == {"text", "image", "audio", "video"}
    assert stats["collections"]["image-image"]["encoder"]["name"] == "hash-image"
    assert main(["search", "--store", str(st)]) == 2  # no query: a clear error, exit code 2
    assert "exactly one" in capsys.readouterr().err


def test_cli_ingest_strict_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.txt").write_text("fine words")
    (data / "empty.md").write_text("")
    args = ["ingest", str(data), "--store", str(tmp_path / "st"), "--encoders",
            "text=hash-text,image=hash-image,audio=hash-audio", "-q"]
    assert main(args) == 0
    assert "empty.md: empty file" in capsys.readouterr().out
    assert main([*args, "--strict"]) == 1
    assert main([*args[:-3], "--encoders", "image=nope", "-q"]) == 2
    assert "unknown encoder" in capsys.readouterr().err


def test_missing_store_is_a_user_error_not_created(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(UserError, match="no store at"):
        search("anything", store=tmp_path / "nowhere")
    assert main(["stats", "--store", str(tmp_path / "nowhere")]) == 2
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
