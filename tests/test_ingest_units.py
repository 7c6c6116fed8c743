"""Pure pieces of ingestion: discovery, sniffing, entities, chunking, HTML, segments, loudness."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from mmrag.stores.discover import EntityResolver, discover, sniff, sniff_bytes
from mmrag.stores.media import SAMPLE_RATE, loudness_dbfs, segments
from mmrag.stores.text_readers import chunk_text, decode_text, html_to_text


def test_sniff_magic_bytes() -> None:
    assert sniff_bytes(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_bytes(b"\x89PNG\r\n\x1a\nxxxx") == "image/png"
    assert sniff_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "audio/wav"
    assert sniff_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_bytes(b"fLaC\x00") == "audio/flac"
    assert sniff_bytes(b"\x00\x00\x00\x20ftypisom") == "video/mp4"
    assert sniff_bytes(b"\x00\x00\x00\x20ftypM4A ") == "audio/mp4"
    assert sniff_bytes(b"%PDF-1.7") == "application/pdf"
    assert sniff_bytes(b"hello world") is None


def test_sniff_detects_mislabelled(tmp_path: Path) -> None:
    png_as_jpg = tmp_path / "photo.jpg"
    png_as_jpg.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    s = sniff(png_as_jpg)
    assert s.media_type == "image/png" and s.kind == "image"
    assert s.mislabelled and "image/png" in s.mislabelled
    text_as_jpg = tmp_path / "fake.jpg"
    text_as_jpg.write_text("just words")
    s = sniff(text_as_jpg)
    assert s.media_type is None and "not image/jpeg" in (s.mislabelled or "")
    wav_no_ext = tmp_path / "recording"
    wav_no_ext.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 20)
    assert sniff(wav_no_ext).kind == "audio"
    csv = tmp_path / "table.csv"
    csv.write_text("a,b\n1,2\n")
    assert sniff(csv).media_type is None  # text only with a text extension
    html_txt = tmp_path / "page.txt"
    html_txt.write_text("<!DOCTYPE html><html><body>x</body></html>")
    assert sniff(html_txt).media_type == "text/html"


def test_discover_skips_hidden_sidecars_and_outside_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.txt").write_text("x")
    (root / ".dotfile.txt").write_text("x")
    (root / "a.txt").write_text("a")
    (root / "a.json").write_text('{"entity": "e"}')  # sidecar of a.txt
    (root / "mmrag.json").write_text("{}")
    (root / "sub" / "b.md").write_text("b")
    outside = tmp_path / "outside.txt"
    outside.write_text("o")
    os.symlink(outside, root / "link.txt")
    os.symlink(root / "a.txt", root / "inner_link.txt")
    d = discover(root)
    assert [c.source for c in d.files] == ["a.txt", "inner_link.txt", "sub/b.md"]
    assert any(p == "link.txt" and "outside" in r for p, r in d.skipped)
    followed = discover(root, follow_links=True)
    assert "link.txt" in [c.source for c in followed.files]


def test_entities_from_sidecars_and_manifests(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "deep").mkdir()
    for name in ("shop/menu.jpg", "shop/sign.png", "shop/deep/x.txt", "top.txt", "shop/own.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "shop" / "manifest.json").write_text(
        json.dumps({"entities": {"menu.jpg": "cafe-rosa", "deep/*.txt": "cellar"}, "entity": "shop-default"})
    )
    (tmp_path / "shop" / "own.txt.json").write_text(json.dumps({"entity": "own"}))
    r = EntityResolver(tmp_path)
    assert r.entity(tmp_path / "shop" / "menu.jpg") == "cafe-rosa"
    assert r.entity(tmp_path / "shop" / "sign.png") == "shop-default"
    assert r.entity(tmp_path / "shop" / "deep" / "x.txt") == "cellar"
    assert r.entity(tmp_path / "shop" / "own.txt") == "own"
    assert r.entity(tmp_path / "top.txt") is None
    (tmp_path / "top.json").write_text("{not json")
    with pytest.raises(ValueError, match="top.json"):
        r.entity(tmp_path / "top.txt")


def test_chunks_cover_text_with_offsets_and_overlap() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(300))
    chunks = chunk_text(text, size=800, overlap=100)
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= 800
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # overlap
        assert b.start > a.start
    assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
    assert chunk_text("short", 800, 100)[0].text == "short"
    with pytest.raises(ValueError):
        chunk_text("x", 100, 100)


def test_html_stripping_and_decoding() -> None:
    out = html_to_text("<html><head><title>T</title><style>p{}</style></head><body><p>A &amp; B</p>"
                       "<script>alert(1)</script><div>C</div></body></html>")
    assert "A & B" in out and "C" in out and "alert" not in out and "p{}" not in out and out.startswith("T")
    text, warn = decode_text("caf\xe9".encode("latin-1"))
    assert text == "café" and warn and "0xe9" in warn
    assert decode_text("\ufeffhé".encode("utf-8")) == ("hé", None)


def test_segments_and_loudness() -> None:
    assert segments(SAMPLE_RATE * 25, 10.0) == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    assert segments(int(SAMPLE_RATE * 20.5), 10.0) == [(0.0, 10.0), (10.0, 20.5)]  # short tail merged
    assert segments(SAMPLE_RATE * 3, 10.0) == [(0.0, 3.0)]
    assert segments(int(SAMPLE_RATE * 12.5), 10.0) == [(0.0, 12.5)]  # a tail under half a window merges
    assert segments(int(SAMPLE_RATE * 12.5), 10.0, min_last=1.0) == [(0.0, 10.0), (10.0, 12.5)]
    assert segments(0, 10.0) == []
    full = np.ones(1000, np.float32)
    assert loudness_dbfs(full) == pytest.approx(0.0)
    assert loudness_dbfs(full * 0.1) == pytest.approx(-20.0)
    assert loudness_dbfs(np.zeros(10, np.float32)) == -120.0
