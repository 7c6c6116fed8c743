"""Broken files and SIGKILL: the corpus generator, store snapshots, and the real ingestion runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmrag.evals.reliability import check_bad_files
from mmrag.evals.reliability_files import make_corpus, summarise
from mmrag.evals.reliability_kill import StoreSnapshot, compare, snapshot
from mmrag.evals.reliability_store import HASH_ENCODERS


def test_corpus_has_50_bad_files_of_every_modality_and_stays_small(tmp_path: Path) -> None:
    files = make_corpus(tmp_path / "c")
    counts = summarise(files)
    assert counts["bad"] >= 50 and counts["valid"] >= 10
    exts = {Path(f.source).suffix for f in files if f.expect == "bad"}
    assert {".jpg", ".png", ".flac", ".wav", ".mp4", ".txt", ".pdf"} <= exts
    wav = tmp_path / "c" / "bad" / "bomb" / "ten_hours.wav"
    assert wav.stat().st_size > 500_000_000  # claims ten hours...
    assert wav.stat().st_blocks * 512 < 1_000_000  # ...but is a sparse file
    used = sum(p.stat().st_blocks * 512 for p in (tmp_path / "c").rglob("*") if p.is_file() and not p.is_symlink())
    assert used < 5_000_000


def _unit(store, source: str, uid: str) -> None:
    from mmrag.schemas import Unit

    u = Unit(id=uid, modality="text", channel="text", kind="chunk", source=source, source_hash="h",
             media_type="text/plain", text="x", char_start=0)
    store.upsert([u], store.encoder("text").embed_text(["x"]))


@pytest.mark.integration
def test_snapshot_detects_orphans_duplicates_and_loss(tmp_path: Path) -> None:
    from mmrag.stores.chroma_store import VectorStore

    store = VectorStore(path=tmp_path / "s", encoders=HASH_ENCODERS)  # type: ignore[arg-type]
    _unit(store, "a.txt", "a-1")
    store.mark_file("a.txt", "h", 1)
    clean = snapshot(tmp_path / "s")
    assert clean.records == {"a.txt": "h"} and not clean.orphans and not clean.duplicates
    assert compare(clean, clean) == []
    _unit(store, "b.txt", "b-1")  # a unit without a file record: an orphan
    _unit(store, "a.txt", "a-dup")  # the same position of a.txt under another id: a duplicate
    dirty = snapshot(tmp_path / "s")
    assert any("b.txt" in o for o in dirty.orphans) and dirty.duplicates
    problems = compare(clean, dirty)
    assert any(p.startswith("extra") for p in problems) and any(p.startswith("orphan") for p in problems)
    assert any(p.startswith("missing") for p in compare(dirty, StoreSnapshot()))


@pytest.mark.integration
@pytest.mark.slow
def test_bad_files_are_reported_and_valid_ones_ingested(tmp_path: Path) -> None:
    res = check_bad_files(tmp_path, lambda m: None)
    assert res.bad_files_tried >= 50
    assert res.failures == [], res.failures[:10]
    assert res.bad_files_reported == res.bad_files_tried and res.crashes == 0 and res.items_lost == 0
    reasons = res.details["reasons"]
    assert "pixel" in reasons["bad/bomb/huge.png"]
    assert "limit" in reasons["bad/bomb/ten_hours.wav"]
    assert "UTF-8" in reasons["bad/text/latin1.txt"]


@pytest.mark.integration
@pytest.mark.slow
def test_sigkill_and_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    from mmrag.evals.reliability_kill import kill_test

    kills = int(os.environ.get("MMRAG_TEST_KILLS", "2"))
    res = kill_test(tmp_path, kills=kills, seed=3, scale=1)
    assert res.clean_units > 50 and res.clean_files >= 19
    assert [t.problems for t in res.trials] == [[] for _ in res.trials]
    assert res.survived == kills
