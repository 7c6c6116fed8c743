"""kill -9 at random moments during `mmrag ingest`, then rerun: the store must end with exactly the
units (ids, documents, metadata) and file records of a clean run."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ingest_media import HASH_ENCODERS, HASH_ENCODERS_CLI, colour_image, mixed_folder, sine_wav
from mmrag.stores.chroma_store import VectorStore

MMRAG = [sys.executable, "-m", "mmrag.cli"]


def _ingest_cmd(data: Path, store: Path) -> list[str]:
    return [*MMRAG, "ingest", str(data), "--store", str(store), "--encoders", HASH_ENCODERS_CLI,
            "--no-transcripts", "--no-ocr", "-q", "--workers", "2"]


def _snapshot(store: Path) -> dict[str, Any]:
    vs = VectorStore(store, encoders=HASH_ENCODERS)
    units = {}
    for m, ch, coll in vs.existing():
        got = coll.get(include=["metadatas", "documents"])
        for uid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"]):
            units[(m, ch, uid)] = (doc, tuple(sorted(meta.items())))
    recs = {s: (r["source_hash"], r["units"]) for s, r in vs.file_records().items()}
    return {"units": units, "records": recs}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = mixed_folder(tmp_path_factory.mktemp("kill") / "data", n_texts=120, n_images=40)
    for i in range(6):
        sine_wav(data / f"tone{i}.wav", seconds=15.0 + i, freq=200.0 + 50 * i)
    for i in range(40, 70):
        colour_image(data / "photos" / f"img{i}.jpg", (i * 3 % 255, 40, 90), size=96, seed=i)
    return data


@pytest.mark.slow
@pytest.mark.integration
def test_kill_and_resume_matches_clean_run(corpus: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    clean = tmp_path / "clean"
    t0 = time.monotonic()
    out = subprocess.run(_ingest_cmd(corpus, clean), check=True, env=env, capture_output=True, text=True,
                         timeout=300).stdout
    clean_seconds = time.monotonic() - t0
    working = float(re.search(r"in ([0-9.]+) s", out).group(1))  # the ingest itself, after start-up
    startup = max(0.2, clean_seconds - working)
    expected = _snapshot(clean)
    assert len(expected["records"]) > 150 and len(expected["units"]) > 150

    seed = int(os.environ.get("MMRAG_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    resumed = tmp_path / "resumed"
    kills, upper = 0, clean_seconds
    for attempt in range(10):
        if attempt >= 4 and kills:
            break
        proc = subprocess.Popen(_ingest_cmd(corpus, resumed), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # mostly while files are being written, once anywhere (start-up included)
        delay = rng.uniform(0.3, upper) if attempt == 0 else rng.uniform(startup, max(startup + 0.1, upper))
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            if not kills:  # finished before the kill landed: start over, killing sooner
                shutil.rmtree(resumed, ignore_errors=True)
                upper *= 0.7
    assert kills >= 1, f"no run was killed (seed {seed}); the clean run took {clean_seconds:.1f} s"
    done = subprocess.run(_ingest_cmd(corpus, resumed), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = _snapshot(resumed)
    assert got["records"] == expected["records"], f"seed {seed}"
    missing = set(expected["units"]) - set(got["units"])
    extra = set(got["units"]) - set(expected["units"])
    assert not missing and not extra, f"seed {seed}: {len(missing)} missing, {len(extra)} extra units"
    assert got["units"] == expected["units"], f"seed {seed}: documents or metadata differ"
    # and one more run changes nothing
    again = subprocess.run(_ingest_cmd(corpus, resumed), env=env, capture_output=True, text=True, timeout=300)
    assert "ingested 0 file(s)" in again.stdout and "units added: 0" in again.stdout
