"""The store under ingestion: the chroma guard embedding, telemetry off, kill-safe delete order,
and the `--chroma-url` / `MMRAG_CHROMA_URL` choice with a real `chroma run` server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest_media import HASH_ENCODERS, HASH_ENCODERS_CLI, colour_image, mixed_folder
from mmrag.api import ingest, search
from mmrag.cli import main
from mmrag.stores.chroma_store import StoreError, VectorStore


def test_no_default_embedding_and_telemetry_off(tmp_path: Path) -> None:
    colour_image(tmp_path / "a.png", (1, 2, 3))
    ingest(tmp_path / "a.png", tmp_path / "st", encoders=HASH_ENCODERS, ocr=False)
    vs = VectorStore(tmp_path / "st", encoders=HASH_ENCODERS)
    assert vs.client.get_settings().anonymized_telemetry is False
    with pytest.raises(Exception) as err:  # chroma wraps the guard's error in its own
        vs.collection("image", "image").query(query_texts=["anything"], n_results=1)
    assert "explicit embeddings" in str(err.value) or isinstance(err.value, StoreError)


def test_one_ingest_at_a_time_per_store(tmp_path: Path) -> None:
    import fcntl

    from mmrag.errors import UserError

    colour_image(tmp_path / "a.png", (1, 2, 3))
    st = tmp_path / "st"
    st.mkdir()
    with open(st / "mmrag-ingest.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running ingest holds it
        with pytest.raises(UserError, match="another `mmrag ingest`"):
            ingest(tmp_path / "a.png", st, encoders=HASH_ENCODERS, ocr=False)
    assert ingest(tmp_path / "a.png", st, encoders=HASH_ENCODERS, ocr=False).files_ingested == 1


def test_delete_source_drops_the_record_before_the_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = mixed_folder(tmp_path / "data", n_texts=1, n_images=1)
    ingest(data, tmp_path / "st", encoders=HASH_ENCODERS, ocr=False, transcripts=False)
    vs = VectorStore(tmp_path / "st", encoders=HASH_ENCODERS)
    assert "docs/note0.txt" in vs.file_records()
    coll = vs.collection("text", "text")

    def killed(*a: object, **k: object) -> None:
        raise KeyboardInterrupt("killed between the two steps")

    monkeypatch.setattr(coll, "delete", killed)  # this collection only, not the file records
    with pytest.raises(KeyboardInterrupt):
        vs.delete_source("docs/note0.txt")
    monkeypatch.undo()
    assert "docs/note0.txt" not in vs.file_records()  # so the next run re-ingests it
    rep = ingest(data, tmp_path / "st", encoders=HASH_ENCODERS, ocr=False, transcripts=False)
    assert rep.files_ingested == 1 and rep.units_removed >= 1  # its stale units were cleared first


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_ingest_and_search_through_a_chroma_server(
    chroma_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    data = mixed_folder(tmp_path / "data", n_texts=2, n_images=1)
    local = tmp_path / "local-store"
    # the env var selects the server when no flag is given
    monkeypatch.setenv("MMRAG_CHROMA_URL", chroma_server.url)
    assert main(["ingest", str(data), "--store", str(local), "--encoders", HASH_ENCODERS_CLI,
                 "--no-ocr", "--no-transcripts", "-q"]) == 0
    assert "ingested 8 file(s)" in capsys.readouterr().out
    assert not local.exists(), "with a server, nothing is written to the store directory"
    hits = search("espresso machine descaling", modality="text", k=1)
    assert hits[0].source.startswith("docs/note")
    # an explicit --chroma-url wins over the env
    monkeypatch.setenv("MMRAG_CHROMA_URL", "http://127.0.0.1:9")  # nothing listens there
    assert main(["stats", "--json", "--chroma-url", chroma_server.url]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["files"] == 8 and stats["units_per_modality"]["video"] >= 2
    # and a rerun through the server is incremental too
    monkeypatch.delenv("MMRAG_CHROMA_URL")
    rep = ingest(data, chroma_url=chroma_server.url, encoders=HASH_ENCODERS, ocr=False, transcripts=False)
    assert rep.files_unchanged == 8 and rep.files_ingested == 0
