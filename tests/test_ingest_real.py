"""Real files from ../shared/data (a few photos, ESC-50 clips, an AudioCaps clip, an MSR-VTT video),
plus generated broken files, ingested into a real on-disk chroma with real OCR, Whisper and MiniLM,
then searched. Runs with hashed image/audio encoders, and with the default (trained translator)
encoders when their weights are present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest_media import huge_png_header, truncate
from mmrag.api import ingest, search
from mmrag.stores.chroma_store import DEFAULT_ENCODERS, VectorStore

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

PHOTOS = ["3385593926_d3e9c21170.jpg", "2677656448_6b7e7702af.jpg", "311146855_0b65fdb169.jpg"]
SOUNDS = ["4-182395-A-0.flac", "4-160999-A-10.flac"]  # a dog, rain: no speech
SPEECHY = "_YS5uKWoB6g_30.flac"  # AudioCaps: "a kid crying as a man and a woman talk ..."
VIDEO = "video176.mp4"  # MSR-VTT: "a guy is giving a speech to an audience"


def _defaults_ready() -> bool:
    from mmrag.encoders import EncoderError, get_encoder

    try:
        for ch in ("image", "audio"):
            get_encoder(DEFAULT_ENCODERS[ch]).config()  # needs the trained head's weights
    except (EncoderError, FileNotFoundError, ImportError):
        return False
    return True


@pytest.fixture(scope="module")
def corpus(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Links to the real files (never copies), and generated broken files beside them."""
    root = tmp_path_factory.mktemp("real") / "corpus"
    for sub in ("photos", "sounds", "video"):
        (root / sub).mkdir(parents=True)
    for name in PHOTOS:
        os.symlink(data_dir / "flickr8k" / "images" / name, root / "photos" / name)
    for name in SOUNDS:
        os.symlink(data_dir / "esc50" / "audio" / name, root / "sounds" / name)
    os.symlink(data_dir / "audiocaps" / "audio" / SPEECHY, root / "sounds" / SPEECHY)
    os.symlink(data_dir / "msrvtt" / "video" / VIDEO, root / "video" / VIDEO)
    broken = root / "broken"
    broken.mkdir()
    truncate(data_dir / "flickr8k" / "images" / PHOTOS[0], broken / "cut.jpg", keep=0.3)
    truncate(data_dir / "esc50" / "audio" / SOUNDS[0], broken / "cut.flac", keep=0.3)
    (broken / "zero.mp4").write_bytes(b"")
    (broken / "notes.mp3").write_text("not sound at all")
    huge_png_header(broken / "bomb.png")
    (root / "photos" / "manifest.json").write_text('{"entity": "flickr-sample"}')
    return root


@pytest.mark.parametrize("which", ["hashed-media", "defaults"])
def test_real_subset_ingest_and_search(corpus: Path, tmp_path: Path, which: str) -> None:
    if which == "defaults" and not _defaults_ready():
        pytest.skip("the default translator encoders' trained weights are not in encoders/weights yet")
    encoders = {"text": "minilm", "image": "hash-image", "audio": "hash-audio"} if which == "hashed-media" else None
    st = tmp_path / "store"
    rep = ingest(corpus, st, encoders=encoders, follow_links=True)
    reasons = {i.path: i.reason for i in rep.issues}
    assert set(reasons) == {"broken/cut.jpg", "broken/cut.flac", "broken/zero.mp4", "broken/notes.mp3",
                            "broken/bomb.png"}, reasons
    assert rep.files_ingested == 7
    assert rep.units_added["image-image"] == 3 and rep.units_added["video-image"] >= 2
    assert rep.units_added["audio-audio"] == 3  # 5 s, 5 s and 10 s clips: one 10 s window each
    assert rep.media_seconds["video"] > 10

    vs = VectorStore(st, encoders=encoders)  # reopened from disk
    stats = vs.stats()
    assert stats["files"] == 7 and stats["entities"] == ["flickr-sample"]
    transcripts = vs.collection("video", "text").get(include=["documents", "metadatas"])
    said = " ".join(transcripts["documents"]).lower()
    assert "college" in said or "degree" in said, said
    assert all(0 <= m["start"] < m["end"] <= m["duration"] + 0.5 for m in transcripts["metadatas"])
    audio_text = vs.collection("audio", "text", create=False)
    sources = set() if audio_text is None else {m["source"] for m in audio_text.get(include=["metadatas"])["metadatas"]}
    assert not sources & {f"sounds/{s}" for s in SOUNDS}, "a dog or rain must not produce a transcript"
    loud = vs.collection("audio", "audio").get(include=["metadatas"])["metadatas"]
    assert all(-90 < m["loudness_db"] < 0 for m in loud)

    hits = search("a man says he has no college degree", store=st, k=3, encoders=encoders)
    assert hits[0].source == f"video/{VIDEO}" and hits[0].channel == "text" and hits[0].start is not None
    hits = search(image=corpus / "photos" / PHOTOS[1], store=st, k=2, modality="image", encoders=encoders)
    assert hits[0].source == f"photos/{PHOTOS[1]}" and hits[0].entity == "flickr-sample"
    hits = search(audio=corpus / "sounds" / SOUNDS[0], store=st, k=1, modality="audio", encoders=encoders)
    assert hits[0].source == f"sounds/{SOUNDS[0]}"
    again = ingest(corpus, st, encoders=encoders, follow_links=True)
    assert again.files_ingested == 0 and again.files_unchanged == 7 and again.units_added == {}
