"""The ingestion pipeline end to end on generated files, with hashed encoders (no model loads,
except one test that runs tesseract and Whisper on tiny inputs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest_media import (
    HASH_ENCODERS, colour_image, huge_png_header, mixed_folder, noise_flac, sine_wav, text_image, text_pdf,
    tiny_mp4, truncate,
)
from mmrag.api import StrictIngestError, ingest
from mmrag.errors import UserError
from mmrag.stores.chroma_store import EncoderMismatch, VectorStore

FAST = dict(encoders=HASH_ENCODERS, ocr=False, transcripts=False)


def _store(path: Path) -> VectorStore:
    return VectorStore(path, encoders=HASH_ENCODERS)


def test_mixed_folder_units_and_metadata(tmp_path: Path) -> None:
    data = mixed_folder(tmp_path / "data")
    (data / "docs" / "note0.json").write_text(json.dumps({"entity": "machine-0"}))
    rep = ingest(data, tmp_path / "st", **FAST)
    assert rep.issues == []
    assert rep.files_seen == rep.files_ingested == 10
    assert rep.units_added["text-text"] >= 5
    assert rep.units_added["image-image"] == 2
    assert rep.units_added["audio-audio"] == 3  # 16 s tone -> 10 s + 6 s, hiss -> 1
    assert rep.units_added["video-image"] >= 2 and rep.units_added["video-audio"] == 1
    got = _store(tmp_path / "st").collection("audio", "audio").get(include=["metadatas"])
    tone = sorted((m for m in got["metadatas"] if m["source"] == "tone.wav"), key=lambda m: m["start"])
    assert [(m["start"], m["end"]) for m in tone] == [(0.0, 10.0), (10.0, 16.0)]
    assert tone[0]["duration"] == pytest.approx(16.0, abs=0.05)
    assert -14.0 < tone[0]["loudness_db"] < -12.0  # 0.3 amplitude sine: 20*log10(0.3/sqrt 2) = -13.5
    frames = _store(tmp_path / "st").collection("video", "image").get(include=["metadatas"])["metadatas"]
    frames.sort(key=lambda m: m["start"])
    assert frames[0]["start"] == 0.0 and any(m["keyframe_reason"] == "scene" for m in frames)
    assert all(m["parent_id"] == frames[0]["video_id"] for m in frames)
    chunks = _store(tmp_path / "st").collection("text", "text").get(include=["metadatas", "documents"])
    note0 = [(m, d) for m, d in zip(chunks["metadatas"], chunks["documents"]) if m["source"] == "docs/note0.txt"]
    text = (data / "docs" / "note0.txt").read_text()
    assert note0 and all(text[m["char_start"] : m["char_end"]] == d for m, d in note0)
    assert {m["entity"] for m, _ in note0} == {"machine-0"}
    html = [d for m, d in zip(chunks["metadatas"], chunks["documents"]) if m["source"] == "docs/page.html"]
    assert html and "coffee & cake" in html[0] and "var x" not in html[0]


def test_idempotent_changes_and_prune(tmp_path: Path) -> None:
    data = mixed_folder(tmp_path / "data", n_texts=3, n_images=2)
    st = tmp_path / "st"
    first = ingest(data, st, **FAST)
    ids_before = _store(st).unit_ids()
    again = ingest(data, st, **FAST)
    assert again.files_ingested == 0 and again.files_unchanged == first.files_ingested
    assert again.units_added == {} and again.units_removed == 0
    assert _store(st).unit_ids() == ids_before
    # change one file, delete another
    (data / "docs" / "note1.txt").write_text("Completely new words about a violin repair. " * 5)
    (data / "photos" / "img1.png").unlink()
    changed = ingest(data, st, **FAST)
    assert changed.files_ingested == 1 and changed.units_added == {"text-text": 1}
    assert changed.units_removed >= 2  # the old chunks of note1
    assert "photos/img1.png" in _store(st).file_records()  # not pruned without --prune
    pruned = ingest(data, st, prune=True, **FAST)
    assert pruned.files_removed == 1 and pruned.units_removed == 1
    recs = _store(st).file_records()
    assert "photos/img1.png" not in recs
    coll = _store(st).collection("text", "text")
    docs = coll.get(where={"source": "docs/note1.txt"}, include=["documents"])["documents"]
    assert docs and all("violin" in d for d in docs)
    # an entity change alone re-indexes the file, with the new entity on its units
    (data / "docs" / "note2.json").write_text('{"entity": "machine-2"}')
    rep = ingest(data, st, **FAST)
    assert rep.files_ingested == 1
    metas = coll.get(where={"source": "docs/note2.txt"}, include=["metadatas"])["metadatas"]
    assert metas and {m["entity"] for m in metas} == {"machine-2"}


def test_broken_files_are_reported_and_the_rest_ingested(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    good_png = colour_image(data / "good.png", (200, 10, 10))
    colour_image(tmp_path / "ok.jpg", (10, 200, 10))
    truncate(tmp_path / "ok.jpg", data / "truncated.jpg")
    noise_flac(tmp_path / "ok.flac", seconds=4.0)
    truncate(tmp_path / "ok.flac", data / "truncated.flac")
    (data / "zero.wav").write_bytes(b"")
    (data / "words.jpg").write_text("this is not a picture")
    shutil.copy(good_png, data / "really_png.jpg")
    (data / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    text_pdf(data / "scanned.pdf", None)
    text_pdf(data / "real.pdf", "Invoice for the espresso machine")
    huge_png_header(data / "bomb.png")
    (data / "table.csv").write_text("a,b\n")
    (data / "bad_sidecar.txt").write_text("hello")
    (data / "bad_sidecar.json").write_text("{oops")
    rep = ingest(data, tmp_path / "st", **FAST)
    reasons = {i.path: i.reason for i in rep.issues}
    assert "truncated" in reasons["truncated.jpg"]
    assert "truncated" in reasons["truncated.flac"]
    assert "empty" in reasons["zero.wav"]
    assert "not image/jpeg" in reasons["words.jpg"]
    assert "image/png" in reasons["really_png.jpg"]  # mislabelled, but ingested as what it is
    assert "UTF-8" in reasons["latin1.txt"]
    assert "no extractable text" in reasons["scanned.pdf"]
    assert "pixel" in reasons["bomb.png"]
    assert "unsupported" in reasons["table.csv"]
    assert "bad_sidecar.json" in reasons["bad_sidecar.txt"]
    assert "good.png" not in reasons and "real.pdf" not in reasons
    recs = _store(tmp_path / "st").file_records()
    assert {"good.png", "really_png.jpg", "latin1.txt", "real.pdf"} <= set(recs)
    docs = _store(tmp_path / "st").collection("text", "text").get(include=["documents"])["documents"]
    assert "Café crème brûlée" in docs and any("espresso" in d for d in docs)
    # a second run reports the same issues (warnings of ingested files are kept in their records)
    again = ingest(data, tmp_path / "st", **FAST)
    assert {i.path for i in again.issues} == set(reasons) and again.files_ingested == 0
    with pytest.raises(StrictIngestError) as err:
        ingest(data, tmp_path / "st", strict=True, **FAST)
    assert len(err.value.report.issues) == len(reasons)


def test_limits_are_configurable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    colour_image(data / "big.png", (1, 2, 3), size=200)
    sine_wav(data / "long.wav", seconds=25.0)
    rep = ingest(data, tmp_path / "st", max_pixels=100 * 100, max_audio_seconds=12.0, **FAST)
    reasons = {i.path: i.reason for i in rep.issues}
    assert "over the limit of 10,000" in reasons["big.png"]
    assert "first 12 s" in reasons["long.wav"]
    got = _store(tmp_path / "st").collection("audio", "audio").get(include=["metadatas"])["metadatas"]
    assert max(m["end"] for m in got) == pytest.approx(12.0)
    rep = ingest(data, tmp_path / "st2", max_file_bytes=1000, **FAST)
    assert all("over the limit" in i.reason for i in rep.issues) and rep.files_ingested == 0
    with pytest.raises(UserError):
        ingest(data, tmp_path / "st3", segment_seconds="long", **FAST)
    with pytest.raises(UserError):
        ingest(tmp_path / "missing", tmp_path / "st3", **FAST)


def test_store_inside_the_folder_is_not_ingested(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("some words")
    first = ingest(tmp_path, tmp_path / "store", **FAST)
    assert first.files_seen == 1
    again = ingest(tmp_path, tmp_path / "store", **FAST)
    assert again.files_seen == 1 and again.issues == [] and again.files_unchanged == 1


def test_single_file_and_encoder_mismatch(tmp_path: Path) -> None:
    f = sine_wav(tmp_path / "one.wav", seconds=2.0)
    rep = ingest(f, tmp_path / "st", **FAST)
    assert rep.files_ingested == 1 and rep.units_added == {"audio-audio": 1}
    other = VectorStore(tmp_path / "st", encoders={**HASH_ENCODERS, "audio": "hash-text"})
    with pytest.raises(EncoderMismatch):
        ingest(f.with_name("one.wav"), other, ocr=False, transcripts=False)


def test_ocr_and_transcripts_real_tools(tmp_path: Path) -> None:
    """Tesseract reads a sign; Whisper gives no transcript for a tone or noise (no junk)."""
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract-ocr is not installed (scripts/install.sh installs it)")
    data = tmp_path / "data"
    data.mkdir()
    text_image(data / "sign.png", "HOT PIZZA MENU")
    colour_image(data / "plain.png", (90, 90, 90))
    sine_wav(data / "tone.wav", seconds=4.0)
    noise_flac(data / "hiss.flac", seconds=4.0, amp=0.3)
    tiny_mp4(data / "clip.mp4", seconds=3.0)
    rep = ingest(data, tmp_path / "st", encoders=HASH_ENCODERS)
    assert rep.issues == []
    ocr = _store(tmp_path / "st").collection("image", "text").get(include=["metadatas", "documents"])
    assert len(ocr["ids"]) == 1 and "PIZZA" in ocr["documents"][0].upper()
    meta = ocr["metadatas"][0]
    assert meta["kind"] == "ocr" and meta["source"] == "sign.png"
    image_ids = _store(tmp_path / "st").collection("image", "image").get(where={"source": "sign.png"})["ids"]
    assert meta["parent_id"] == image_ids[0]
    assert "audio-text" not in rep.units_added and "video-text" not in rep.units_added
