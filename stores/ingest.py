"""The ingestion pipeline: discover -> plan (incremental) -> extract (thread pool) -> encode in
batches -> upsert -> commit each file.

Kill-safety: a file's record (`VectorStore.mark_file`) is written only after every one of its
units is upserted, and is the only thing that lets a later run skip the file. A later run deletes
the units of any source that has units but no matching record before ingesting it again, so a
run killed at any moment and rerun ends with exactly the units of a clean run.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tqdm import tqdm

from mmrag.errors import UserError
from mmrag.schemas import FileIssue, IngestReport, Unit

from .chroma_store import VectorStore
from .discover import EXTENSIONS, EntityResolver, discover, file_hash, sniff
from .extract import Extracted, IngestOptions, Job, extract_batch
from .media import tesseract_available
from .transcribe import Transcriber

log = logging.getLogger(__name__)
KINDS = ("text", "image", "audio", "video")


def _plan(
    root_files: Any, store: VectorStore, opts: IngestOptions, report: IngestReport, records: dict[str, dict],
    root: Path, progress: bool = True,
) -> tuple[list[Job], list[str]]:
    """Which files to (re-)ingest, and which sources must be cleared first."""
    resolver = EntityResolver(root)
    present = store.sources_with_units()
    cfg = opts.fingerprint()
    jobs: list[Job] = []
    clear: list[str] = []
    for cand in tqdm(root_files, desc="scanning", unit="file", disable=not progress or len(root_files) < 500,
                     leave=False):
        issue = lambda reason: report.issues.append(FileIssue(path=cand.source, reason=reason))  # noqa: E731
        try:
            st = cand.path.stat()
            if st.st_size == 0:
                issue("empty file (0 bytes)")
                continue
            if st.st_size > opts.max_file_bytes:
                issue(f"file is {st.st_size:,} bytes, over the limit of {opts.max_file_bytes:,}")
                continue
            with open(cand.path, "rb") as fh:
                head = fh.read(4096)
            sn = sniff(cand.path, head)
            if sn.media_type is None or sn.kind is None:
                ext = cand.path.suffix.lower() or "(no extension)"
                issue(sn.mislabelled or f"unsupported file type {ext}; supported: {' '.join(sorted(EXTENSIONS))}")
                continue
            entity = resolver.entity(cand.path)
            rec = records.get(cand.source)
            same_stat = rec and rec.get("size") == st.st_size and rec.get("mtime_ns") == str(st.st_mtime_ns)
            digest = str(rec["source_hash"]) if same_stat and rec else file_hash(cand.path)
        except ValueError as exc:  # bad sidecar / manifest
            issue(str(exc))
            continue
        except OSError as exc:
            issue(f"unreadable: {exc.strerror or exc}")
            continue
        if (
            rec
            and rec.get("source_hash") == digest
            and rec.get("entity", "") == (entity or "")
            and rec.get("config") == cfg
        ):
            report.files_unchanged += 1
            if rec.get("issue"):
                report.issues.append(FileIssue(path=cand.source, reason=str(rec["issue"])))
            continue
        if rec or cand.source in present:
            clear.append(cand.source)
        jobs.append(Job(cand.path, cand.source, digest, sn.media_type, sn.kind, entity, st.st_size,
                        st.st_mtime_ns, sn.mislabelled))
    return jobs, clear


class _Writer:
    """Buffers units per collection, encodes full batches, and commits files whose units are all in."""

    def __init__(self, store: VectorStore, opts: IngestOptions, report: IngestReport, bars: dict[str, tqdm],
                 root: Path) -> None:
        self.store, self.opts, self.report, self.bars, self.root = store, opts, report, bars, root
        self.buffers: dict[tuple[str, str], list[tuple[Unit, Any]]] = defaultdict(list)
        self.pending: dict[str, int] = {}
        self.done: dict[str, Extracted] = {}
        self.failed: set[str] = set()
        self.to_mark: list[tuple[str, str, int, dict[str, Any]]] = []
        self.cfg = opts.fingerprint()
        self.since: dict[tuple[str, str], float] = {}  # when each buffer got its oldest unit
        self.max_wait = 60.0  # seconds a unit may wait in a part-full buffer before it is written

    def batch_size(self, channel: str) -> int:
        return {"text": self.opts.text_batch, "image": self.opts.image_batch}.get(channel, self.opts.audio_batch)

    def add(self, ex: Extracted) -> None:
        src = ex.job.source
        self.pending[src] = len(ex.items)
        self.done[src] = ex
        now = time.monotonic()
        for unit, payload in ex.items:
            self.buffers[(unit.modality, unit.channel)].append((unit, payload))
            self.since.setdefault((unit.modality, unit.channel), now)
        if not ex.items:
            self._commit(src)
            self.write_marks()
        for key in list(self.buffers):
            full = len(self.buffers[key]) >= self.batch_size(key[1])
            if full or time.monotonic() - self.since.get(key, now) > self.max_wait:
                self.flush(key)  # a part-full buffer only once its oldest unit waited max_wait

    def flush(self, key: tuple[str, str]) -> None:
        self.since.pop(key, None)
        items = [(u, p) for u, p in self.buffers.pop(key, []) if u.source not in self.failed]
        if not items:
            return
        enc = self.store.encoder(key[1])  # type: ignore[arg-type]
        try:
            emb = enc.embed([p for _, p in items])  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - find the bad item(s), keep the rest
            import numpy as np

            vecs: list[tuple[Unit, Any]] = []
            for u, p in items:
                if u.source in self.failed:
                    continue
                try:
                    vecs.append((u, enc.embed([p])[0]))  # type: ignore[attr-defined]
                except Exception as exc:  # noqa: BLE001
                    self.fail(u.source, f"encoder {enc.name} failed: {exc}")
            vecs = [(u, v) for u, v in vecs if u.source not in self.failed]
            if not vecs:
                return
            items = [(u, None) for u, _ in vecs]
            emb = np.stack([v for _, v in vecs])
        units = [u for u, _ in items]
        self.store.upsert(units, emb)
        self.report.units_added[f"{key[0]}-{key[1]}"] = self.report.units_added.get(f"{key[0]}-{key[1]}", 0) + len(units)
        for u in units:
            self.pending[u.source] -= 1
            if self.pending[u.source] == 0:
                self._commit(u.source)
        self.write_marks()

    def write_marks(self) -> None:
        """The commit point: records of files whose units are all written, in one store write."""
        if self.to_mark:
            self.store.mark_files(self.to_mark)
            self.to_mark = []

    def fail(self, source: str, reason: str) -> None:
        if source in self.failed:
            return
        self.failed.add(source)
        self.report.issues.append(FileIssue(path=source, reason=reason))
        self.store.delete_source(source)  # units it already wrote; it has no record yet
        ex = self.done.pop(source, None)
        if ex:
            self.bars[ex.job.kind].update(1)

    def _commit(self, source: str) -> None:
        ex = self.done.pop(source)
        job = ex.job
        warning = "; ".join(ex.warnings)
        extra: dict[str, Any] = {
            "root": str(self.root), "entity": job.entity or "", "config": self.cfg, "size": job.size,
            "mtime_ns": str(job.mtime_ns), "media_type": job.media_type, "modality": job.kind,
        }
        if warning:
            extra["issue"] = warning
            self.report.issues.append(FileIssue(path=source, reason=warning))
        self.to_mark.append((source, job.source_hash, len(ex.items), extra))
        self.report.files_ingested += 1
        if job.kind in ("audio", "video"):
            self.report.media_seconds[job.kind] = round(self.report.media_seconds.get(job.kind, 0.0) + ex.media_seconds, 3)
        self.bars[job.kind].update(1)

    def flush_all(self) -> None:
        for key in list(self.buffers):
            self.flush(key)


def _tasks(jobs: list[Job], opts: IngestOptions, images_per_task: int = 16) -> list[list[Job]]:
    """Units of work for the pool: runs of consecutive images together (one OCR process each),
    every other file alone."""
    tasks: list[list[Job]] = []
    for job in jobs:
        if job.kind == "image" and tasks and tasks[-1][-1].kind == "image" and len(tasks[-1]) < images_per_task:
            tasks[-1].append(job)
        else:
            tasks.append([job])
    return tasks


@contextmanager
def _exclusive(store: VectorStore) -> Iterator[None]:
    """One ingest at a time per on-disk store (released by the kernel even on kill -9)."""
    if store.path is None:
        yield
        return
    store.path.mkdir(parents=True, exist_ok=True)
    with open(store.path / "mmrag-ingest.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another `mmrag ingest` is writing to {store.path}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_ingest(
    path: str | Path, store: VectorStore, opts: IngestOptions | None = None, prune: bool = False,
    follow_links: bool = False, progress: bool = True,
) -> IngestReport:
    """Ingest a file or folder into `store` (see the module docstring); never raises for bad files."""
    if not Path(path).expanduser().exists():
        raise UserError(f"no such file or folder: {path}")
    with _exclusive(store):
        return _run(path, store, opts, prune, follow_links, progress)


def _run(
    path: str | Path, store: VectorStore, opts: IngestOptions | None, prune: bool, follow_links: bool,
    progress: bool,
) -> IngestReport:
    opts = opts or IngestOptions()
    t0 = time.perf_counter()
    root_path = Path(path).expanduser()
    if not root_path.exists():
        raise UserError(f"no such file or folder: {path}")
    disc = discover(root_path, follow_links=follow_links)
    if store.path is not None:  # never ingest the store's own files when it lies inside the folder
        own = store.path.resolve()
        disc.files = [c for c in disc.files if own not in c.path.resolve().parents]
    report = IngestReport(root=str(disc.root), files_seen=len(disc.files))
    report.issues.extend(FileIssue(path=p, reason=r) for p, r in disc.skipped)
    records = store.file_records()
    jobs, clear = _plan(disc.files, store, opts, report, records, disc.root, progress)
    report.units_removed += store.delete_sources(clear)
    if prune and root_path.is_dir():
        seen = {c.source for c in disc.files}
        gone = [s for s, rec in records.items() if rec.get("root") == str(disc.root) and s not in seen]
        report.units_removed += store.delete_sources(gone)
        report.files_removed += len(gone)
    if opts.ocr and not tesseract_available() and any(j.kind == "image" for j in jobs):
        log.warning("tesseract is not installed: images are ingested without OCR text")
    needs_asr = opts.transcripts and any(j.kind in ("audio", "video") for j in jobs)
    transcriber = Transcriber() if needs_asr else None
    counts = {k: sum(j.kind == k for j in jobs) for k in KINDS}
    bars = {
        k: tqdm(total=counts[k], desc=f"{k:>5} files", unit="file", position=i, disable=not progress or not counts[k],
                leave=True)
        for i, k in enumerate(KINDS)
    }
    writer = _Writer(store, opts, report, bars, disc.root)
    try:
        with ThreadPoolExecutor(max_workers=max(1, opts.workers), thread_name_prefix="mmrag-extract") as pool:
            queue: deque[Future[list[Extracted]]] = deque()
            todo = iter(_tasks(jobs, opts))
            for task in todo:
                queue.append(pool.submit(extract_batch, task, opts, transcriber))
                if len(queue) >= 2 * max(1, opts.workers):
                    break
            while queue:
                done = queue.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    queue.append(pool.submit(extract_batch, nxt, opts, transcriber))
                for ex in done:
                    if ex.error:
                        report.issues.append(FileIssue(path=ex.job.source, reason=ex.error))
                        bars[ex.job.kind].update(1)
                        continue
                    writer.add(ex)
            writer.flush_all()
    finally:
        for bar in bars.values():
            bar.close()
    report.seconds = round(time.perf_counter() - t0, 3)
    return report
