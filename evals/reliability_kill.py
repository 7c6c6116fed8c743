"""Kill-safety of ingestion: SIGKILL `mmrag ingest` at random moments, rerun, compare with a clean run.

For each kill: a fresh store, `mmrag ingest` started as a subprocess (hash encoders, so the run is
short and no model loads), SIGKILL'd at a random moment drawn across the clean run's duration, then
run again to completion. The store must end identical to the clean run's: the same unit ids in
every collection, the same file records, no duplicates (two units for one position of one source)
and no orphans (units whose file has no record, records whose units are missing).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from .reliability_files import audio_bytes, jpeg_bytes, mp4_bytes, pdf_bytes

HASH_ENCODERS = "text=hash-text,image=hash-image,audio=hash-audio"


class StoreSnapshot(BaseModel):
    units: dict[str, list[str]] = Field(default_factory=dict, description="sorted unit ids per collection")
    records: dict[str, str] = Field(default_factory=dict, description="source -> source_hash")
    duplicates: list[str] = Field(default_factory=list)
    orphans: list[str] = Field(default_factory=list)

    @property
    def n_units(self) -> int:
        return sum(len(v) for v in self.units.values())


class KillTrial(BaseModel):
    kill_at: float
    killed: bool  # False when the run had already finished before the kill moment
    units_at_kill: int = 0  # what the killed run had written (a partial store)
    records_at_kill: int = 0
    rerun_rc: int
    same_as_clean: bool
    problems: list[str] = Field(default_factory=list)


class KillResult(BaseModel):
    clean_seconds: float
    startup_seconds: float
    clean_units: int
    clean_files: int
    trials: list[KillTrial] = Field(default_factory=list)

    @property
    def survived(self) -> int:
        return sum(t.same_as_clean for t in self.trials)

    @property
    def mid_write(self) -> int:
        """Kills that left a partial store (some but not all units written)."""
        return sum(t.killed and 0 < t.units_at_kill + t.records_at_kill and t.records_at_kill < self.clean_files
                   for t in self.trials)

    @property
    def items_lost(self) -> int:
        return sum(len([p for p in t.problems if p.startswith("missing")]) for t in self.trials)


def make_kill_corpus(root: Path, scale: int = 1) -> int:
    """Valid media of every modality (text, PDF, images, audio, video); returns the file count."""
    root.mkdir(parents=True, exist_ok=True)
    n = 0
    for i in range(6 * scale):
        (root / f"text/doc{i}.txt").parent.mkdir(parents=True, exist_ok=True)
        words = " ".join(f"word{(i * 7 + j) % 97}" for j in range(400))
        (root / f"text/doc{i}.txt").write_text(f"Document {i}. {words}\n" * 3)
        n += 1
    (root / "text/guide.pdf").write_bytes(pdf_bytes("The night market opens at dusk on Fridays."))
    n += 1
    for i in range(6 * scale):
        (root / f"images/p{i}.jpg").parent.mkdir(parents=True, exist_ok=True)
        (root / f"images/p{i}.jpg").write_bytes(jpeg_bytes((96, 72), ((i * 40) % 255, 90, (255 - i * 30) % 255)))
        n += 1
    for i in range(4 * scale):
        (root / f"audio/s{i}.flac").parent.mkdir(parents=True, exist_ok=True)
        (root / f"audio/s{i}.flac").write_bytes(audio_bytes(seconds=25.0, freq=220.0 + 110 * i))
        n += 1
    for i in range(3 * scale):
        (root / f"video/v{i}.mp4").parent.mkdir(parents=True, exist_ok=True)
        (root / f"video/v{i}.mp4").write_bytes(mp4_bytes(seconds=12.0, fps=4))
        n += 1
    return n


def snapshot(store_dir: Path) -> StoreSnapshot:
    """What a store holds, read with a plain chroma client (no encoders needed)."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(store_dir), settings=Settings(anonymized_telemetry=False))
    snap = StoreSnapshot()
    metas: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for coll in client.list_collections():
        name = coll.name if hasattr(coll, "name") else str(coll)
        got = client.get_collection(name).get(include=["metadatas"])
        if name == "mmrag-files":
            for sid, m in zip(got["ids"], got["metadatas"]):
                snap.records[sid] = str((m or {}).get("source_hash", ""))
                metas.setdefault("__records__", []).append((sid, dict(m or {})))
            continue
        snap.units[name] = sorted(got["ids"])
        metas[name] = [(i, dict(m or {})) for i, m in zip(got["ids"], got["metadatas"])]
    per_source: dict[str, int] = {}
    for name, items in metas.items():
        if name == "__records__":
            continue
        seen: set[tuple[Any, ...]] = set()
        for uid, m in items:
            key = (m.get("source"), m.get("kind"), m.get("start"), m.get("char_start"), m.get("parent_id"), m.get("channel"))
            if key in seen:
                snap.duplicates.append(f"{name}:{uid}")
            seen.add(key)
            src = str(m.get("source"))
            per_source[src] = per_source.get(src, 0) + 1
            if src not in snap.records:
                snap.orphans.append(f"unit {name}:{uid} of {src} has no file record")
    for sid, m in metas.get("__records__", []):
        want = int(m.get("units", 0) or 0)
        if per_source.get(sid, 0) != want:
            snap.orphans.append(f"record {sid} says {want} units, store has {per_source.get(sid, 0)}")
    return snap


def compare(clean: StoreSnapshot, got: StoreSnapshot) -> list[str]:
    problems: list[str] = []
    for name in sorted(set(clean.units) | set(got.units)):
        want, have = set(clean.units.get(name, [])), set(got.units.get(name, []))
        if want - have:
            problems.append(f"missing {len(want - have)} unit(s) in {name}")
        if have - want:
            problems.append(f"extra {len(have - want)} unit(s) in {name}")
    for src in sorted(set(clean.records) - set(got.records)):
        problems.append(f"missing file record {src}")
    for src in sorted(set(got.records) - set(clean.records)):
        problems.append(f"extra file record {src}")
    problems += [f"duplicate {d}" for d in got.duplicates[:10]]
    problems += [f"orphan: {o}" for o in got.orphans[:10]]
    return problems


def ingest_cmd(corpus: Path, store: Path, extra: list[str] | None = None) -> list[str]:
    return [sys.executable, "-m", "mmrag.cli", "ingest", str(corpus), "--store", str(store), "--encoders",
            HASH_ENCODERS, "--no-transcripts", "-q", "--workers", "1", *(extra or [])]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "TQDM_DISABLE": "1"}


def run_to_end(corpus: Path, store: Path, extra: list[str] | None = None, timeout: float = 600) -> tuple[int, float, str]:
    t0 = time.monotonic()
    p = subprocess.run(ingest_cmd(corpus, store, extra), capture_output=True, text=True, timeout=timeout, env=_env())
    return p.returncode, time.monotonic() - t0, (p.stdout + p.stderr)[-2000:]


def run_and_kill(corpus: Path, store: Path, at: float, extra: list[str] | None = None) -> bool:
    """Start ingestion, SIGKILL its process group `at` seconds later; True if it was still running."""
    proc = subprocess.Popen(ingest_cmd(corpus, store, extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env(), start_new_session=True)
    try:
        proc.wait(timeout=at)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return True


def kill_test(workdir: Path, kills: int = 20, seed: int = 8, ocr: bool = False, scale: int = 2,
              log: Any = None) -> KillResult:
    """Clean run, then `kills` kill-and-rerun trials, each on a fresh store. Kill moments are drawn
    uniformly between the end of start-up (measured on an empty folder) and the clean run's end."""
    say = log or (lambda msg: None)
    corpus = workdir / "kill-corpus"
    make_kill_corpus(corpus, scale=scale)
    extra = [] if ocr else ["--no-ocr"]
    (workdir / "empty").mkdir(exist_ok=True)
    _, startup, _ = run_to_end(workdir / "empty", workdir / "empty-store", extra)
    clean_store = workdir / "clean-store"
    rc, secs, out = run_to_end(corpus, clean_store, extra)
    if rc != 0:
        raise RuntimeError(f"the clean ingestion run failed ({rc}):\n{out}")
    clean = snapshot(clean_store)
    result = KillResult(clean_seconds=round(secs, 2), startup_seconds=round(startup, 2), clean_units=clean.n_units,
                        clean_files=len(clean.records))
    say(f"clean run: {len(clean.records)} files, {clean.n_units} units in {secs:.1f} s (start-up {startup:.1f} s)")
    rng = random.Random(seed)
    for i in range(kills):
        store = workdir / f"kill-store-{i}"
        at = round(rng.uniform(min(startup * 0.9, secs * 0.5), secs * 0.98), 2)
        killed = run_and_kill(corpus, store, at, extra)
        partial = snapshot(store) if store.exists() else StoreSnapshot()
        rc, _, out = run_to_end(corpus, store, extra)
        problems = [f"rerun exited {rc}: {out[-300:]}"] if rc != 0 else compare(clean, snapshot(store))
        trial = KillTrial(kill_at=at, killed=killed, units_at_kill=partial.n_units, records_at_kill=len(partial.records),
                          rerun_rc=rc, same_as_clean=not problems, problems=problems)
        result.trials.append(trial)
        state = f"killed with {trial.records_at_kill} files / {trial.units_at_kill} units written" if killed else "finished first"
        say(f"kill {i + 1}/{kills} at {at:.2f} s ({state}): {'ok' if trial.same_as_clean else '; '.join(problems)}")
        shutil.rmtree(store, ignore_errors=True)
    return result
