"""Smoke runs of `mmrag bench ingest|query` at tiny sizes with hashed encoders, and the HNSW
flags of `mmrag ingest`: structure and sanity, never speed."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from mmrag.errors import UserError
from mmrag.stores.hnsw_flags import add_hnsw_flags, hnsw_from_args

HASH = "text=hash-text,image=hash-image,audio=hash-audio"


def test_hnsw_flags_map_to_store_settings() -> None:
    p = argparse.ArgumentParser()
    add_hnsw_flags(p)
    args = p.parse_args(["--M", "32", "--ef-search", "64", "--sync-threshold", "50000", "--hnsw-batch-size", "500"])
    assert hnsw_from_args(args) == {"max_neighbors": 32, "ef_search": 64, "sync_threshold": 50000, "batch_size": 500}
    assert hnsw_from_args(p.parse_args([])) == {}
    with pytest.raises(UserError):
        hnsw_from_args(p.parse_args(["--ef-construction", "0"]))
    with pytest.raises(UserError):
        hnsw_from_args(p.parse_args(["--sync-threshold", "10", "--hnsw-batch-size", "100"]))


@pytest.mark.integration
def test_ingest_cli_creates_collections_with_hnsw_settings(tmp_path: Path, data_dir: Path) -> None:
    from mmrag.cli import main
    from mmrag.stores.chroma_store import _NoDefaultEmbedding, make_client

    src = tmp_path / "d"
    src.mkdir()
    img = sorted((data_dir / "flickr8k" / "images").glob("*.jpg"))[0]
    shutil.copy(img, src / img.name)
    (src / "note.txt").write_text("A brown dog runs across the park chasing a red ball.")
    rc = main(["ingest", str(src), "--store", str(tmp_path / "s"), "--encoders", HASH, "--no-ocr",
               "--no-transcripts", "-q", "--M", "8", "--ef-construction", "64", "--ef-search", "30"])
    assert rc == 0
    client = make_client(tmp_path / "s")
    for name in ("image-image", "text-text"):
        hnsw = client.get_collection(name, embedding_function=_NoDefaultEmbedding()).configuration["hnsw"]
        assert (hnsw["max_neighbors"], hnsw["ef_construction"], hnsw["ef_search"]) == (8, 64, 30)


@pytest.mark.integration
def test_ingest_bench_tiny(data_dir: Path, tmp_path: Path) -> None:
    from mmrag.evals.bench_ingest import IngestBenchConfig, markdown, run_ingest_bench

    cfg = IngestBenchConfig(data=str(data_dir), limit=3, naive_limit=2, repeat=1, modalities="image,audio",
                            encoders={"text": "hash-text", "image": "hash-image", "audio": "hash-audio"})
    res = run_ingest_bench(cfg)
    assert {"overhead_vs_encoder_floor", "speedup_vs_naive", "kinds"} <= set(res)
    rows = {r["kind"]: r for r in res["kinds"]}
    assert set(rows) == {"image", "audio"}
    assert rows["image"]["files"] == 3 and rows["image"]["unit"] == "images/s"
    assert rows["audio"]["media_amount"] == pytest.approx(15.0, abs=0.5)  # 3 ESC-50 clips of 5 s
    for r in rows.values():
        assert r["pipeline_s"] > 0 and r["floor_s"] > 0 and r["naive_s"] > 0
        assert r["overhead_vs_encoder_floor"] == pytest.approx(r["pipeline_s"] / r["floor_s"])
    assert "| image | 3 |" in markdown(res)
    json.dumps(res)


def _mini_data(root: Path, data_dir: Path, n: int = 4) -> Path:
    """A data root of symbolic links: n Flickr8k test images with captions, n ESC-50 clips."""
    fl = root / "flickr8k"
    (fl / "images").mkdir(parents=True)
    (fl / "splits").mkdir()
    imgs = (data_dir / "flickr8k/splits/test.txt").read_text().split()[:n]
    for i in imgs:
        (fl / "images" / i).symlink_to(data_dir / "flickr8k/images" / i)
    (fl / "splits/test.txt").write_text("\n".join(imgs))
    lines = (data_dir / "flickr8k/captions.csv").read_text().splitlines()
    (fl / "captions.csv").write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if ln.split(",")[0] in imgs]))
    (root / "esc50/audio").mkdir(parents=True)
    rows = (data_dir / "esc50/esc50_fold4.csv").read_text().splitlines()[: n + 1]
    (root / "esc50/esc50_fold4.csv").write_text("\n".join(rows))
    for r in rows[1:]:
        f = r.split(",")[0]
        (root / "esc50/audio" / f).symlink_to(data_dir / "esc50/audio" / f)
    return root


@pytest.mark.integration
@pytest.mark.slow
def test_query_bench_tiny_embedded_and_server(data_dir: Path, tmp_path: Path) -> None:
    from mmrag.evals.bench_query import QueryBenchConfig, markdown, questions, run_query_bench
    from mmrag.tools.retrieval import clear_store_cache

    root = _mini_data(tmp_path / "data", data_dir)
    qs = questions(root, 12)
    assert len(qs) == 12 and any(q.startswith("the sound of") for q in qs)
    cfg = QueryBenchConfig(data=str(root), questions=12, repeat=1, concurrency=[1, 2], k=5,
                           encoders={"text": "hash-text", "image": "hash-image", "audio": "hash-audio"})
    try:
        res = run_query_bench(cfg)
    finally:
        clear_store_cache()
    assert {"p50_ms", "p95_ms", "overhead_vs_raw_chroma", "embedded", "retrieval", "server"} <= set(res)
    assert res["embedded"]["model_loads_during_questions"] == 0
    assert "decompose" in res["embedded"]["nodes"] and any(n.startswith("retrieve:") for n in res["embedded"]["nodes"])
    assert res["retrieval"]["collections_queried"] >= 2  # image-image and audio-audio at least
    assert [r["concurrency"] for r in res["throughput_embedded"]] == [1, 2]
    assert [r["concurrency"] for r in res["throughput_server"]] == [1, 2]
    assert all(r["questions_per_s"] > 0 for r in res["throughput_server"])
    assert "| ask, end to end (Chroma server) |" in markdown(res)


def test_naive_baseline_runs_whisper_as_documented(tmp_path: Path) -> None:
    """The naive sound encoder pads to Whisper's 30 s window; the pipeline's keeps its head's window."""
    from mmrag.encoders.heads import HeadConfig, TranslatorHead, save_head
    from mmrag.encoders.translator import WhisperTranslator
    from mmrag.evals.bench_naive import naive_encoders

    head = tmp_path / "audio.safetensors"
    save_head(TranslatorHead(HeadConfig(vec_dim=3 * 384, features={"extractor": "whisper", "window": "trim"})), head)
    pipe = {"audio": WhisperTranslator(head), "text": object()}
    naive = naive_encoders(pipe, "pad30")
    assert naive["text"] is pipe["text"] and naive["audio"] is not pipe["audio"]
    assert naive["audio"].config()["window"] == "pad30" and "window" not in pipe["audio"].config()
    assert naive["audio"].config()["head_sha256"] == pipe["audio"].config()["head_sha256"]
    assert naive_encoders(pipe, "trim")["audio"] is pipe["audio"]
