"""Turning one file into units and the payloads to embed (text, PIL images, audio clips).

Each `extract_*` function is pure with respect to the store: it reads the file and returns an
`Extracted` (or raises `ReadError` with a user-facing reason). Unit ids are stable: a hash of the
source's content hash, its path, the unit's modality, channel, kind and position, so re-ingesting
the same bytes gives the same ids (the path is included so that two identical copies of a file
never overwrite each other's units).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mmrag.encoders import AudioClip
from mmrag.schemas import Channel, Modality, Unit

from . import media
from .text_readers import ReadError, chunk_text, page_of, read_text_file
from .transcribe import Transcriber


class IngestOptions(BaseModel):
    """How files are cut into units, and the limits that protect a run from hostile input."""

    chunk_chars: int = 800
    chunk_overlap: int = 100
    segment_seconds: float = 10.0
    keyframe_every: float = 5.0
    scene_threshold: float = 30.0  # mean abs difference of 32x32 grey thumbnails, 0-255
    max_keyframes: int = 120
    max_file_bytes: int = 2 * 1024**3
    max_pixels: int = 50_000_000
    max_audio_seconds: float = 3 * 3600.0
    ocr: bool = True
    ocr_min_conf: float = 70.0
    transcripts: bool = True
    workers: int = 2
    text_batch: int = 64
    image_batch: int = 32
    audio_batch: int = 16

    def fingerprint(self) -> str:
        """Hash of the options that change which units a file gives (a change re-ingests files)."""
        keep = self.model_dump(exclude={"workers", "text_batch", "image_batch", "audio_batch", "max_file_bytes"})
        return hashlib.sha256(repr(sorted(keep.items())).encode()).hexdigest()[:12]


@dataclass
class Job:
    path: Path
    source: str
    source_hash: str
    media_type: str
    kind: Modality
    entity: str | None
    size: int
    mtime_ns: int
    warning: str | None = None


@dataclass
class Extracted:
    job: Job
    items: list[tuple[Unit, Any]] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    media_seconds: float = 0.0


def unit_id(job: Job, modality: Modality, channel: Channel, kind: str, position: int | str) -> str:
    key = f"{job.source_hash}|{job.source}|{modality}|{channel}|{kind}|{position}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _unit(job: Job, modality: Modality, channel: Channel, kind: str, pos: int | str, **kw: Any) -> Unit:
    return Unit(
        id=unit_id(job, modality, channel, kind, pos),
        modality=modality,
        channel=channel,
        kind=kind,
        source=job.source,
        source_hash=job.source_hash,
        media_type=job.media_type,
        entity=job.entity,
        **kw,
    )


def extract_text(job: Job, opts: IngestOptions, out: Extracted) -> None:
    doc = read_text_file(job.path, job.media_type)
    if doc.warning:
        out.warnings.append(doc.warning)
    for i, ch in enumerate(chunk_text(doc.text, opts.chunk_chars, opts.chunk_overlap)):
        extra = {"page": page_of(ch.start, doc.page_starts)} if doc.page_starts else {}
        u = _unit(job, "text", "text", "chunk", i, text=ch.text, char_start=ch.start, char_end=ch.end, extra=extra)
        out.items.append((u, ch.text))


def extract_image(job: Job, opts: IngestOptions, out: Extracted) -> None:
    img = media.load_image(job.path, opts.max_pixels)
    u = _unit(job, "image", "image", "image", 0, extra={"width": img.width, "height": img.height})
    out.items.append((u, img))  # OCR is added per batch by `extract_batch`


def _sound(
    job: Job, modality: Modality, dec: media.Decoded, opts: IngestOptions, transcriber: Transcriber | None,
    out: Extracted, parent: str | None,
) -> None:
    sr = media.SAMPLE_RATE
    x = dec.samples
    duration = round(x.size / sr, 3) if dec.truncated_to else round(dec.declared_seconds or x.size / sr, 3)
    seg_units: list[Unit] = []
    for i, (a, b) in enumerate(media.segments(x.size, opts.segment_seconds)):
        part = x[int(a * sr) : int(b * sr)]
        u = _unit(job, modality, "audio", "segment", i, start=a, end=b, duration=duration,
                  loudness_db=media.loudness_dbfs(part), parent_id=parent)
        seg_units.append(u)
        out.items.append((u, AudioClip(part, sr)))
    if transcriber is not None:
        for i, sp in enumerate(transcriber.transcribe(x)):
            mid = (sp.start + sp.end) / 2
            seg = next((s for s in seg_units if s.start <= mid < s.end), seg_units[-1] if seg_units else None)
            u = _unit(job, modality, "text", "transcript", i, text=sp.text, start=sp.start, end=sp.end,
                      duration=duration, parent_id=seg.id if seg else parent,
                      extra={"avg_logprob": round(sp.avg_logprob, 3)})
            out.items.append((u, sp.text))
    out.media_seconds = max(out.media_seconds, x.size / sr)
    if dec.truncated_to:
        out.warnings.append(f"longer than the limit: only the first {dec.truncated_to:.0f} s were ingested")


def extract_audio(job: Job, opts: IngestOptions, out: Extracted, transcriber: Transcriber | None) -> None:
    dec = media.decode_audio(job.path, opts.max_audio_seconds)
    assert dec is not None
    _sound(job, "audio", dec, opts, transcriber, out, None)


def extract_video(job: Job, opts: IngestOptions, out: Extracted, transcriber: Transcriber | None) -> None:
    frames, duration = media.video_keyframes(
        job.path, opts.keyframe_every, opts.scene_threshold, opts.max_keyframes, opts.max_audio_seconds,
        opts.max_pixels,
    )
    video_id = unit_id(job, "video", "image", "video", 0)  # the video as a whole (no unit of its own)
    for i, kf in enumerate(frames):
        end = frames[i + 1].time if i + 1 < len(frames) else max(duration, kf.time)
        u = _unit(job, "video", "image", "keyframe", i, start=kf.time, end=round(end, 3),
                  duration=round(duration, 3), parent_id=video_id,
                  extra={"keyframe_reason": kf.reason, "video_id": video_id})
        out.items.append((u, kf.image))
    try:
        dec = media.decode_audio(job.path, opts.max_audio_seconds, require=False)
    except ReadError as exc:
        out.warnings.append(f"sound track skipped: {exc}")
        dec = None
    if dec is not None:
        _sound(job, "video", dec, opts, transcriber, out, video_id)
    out.media_seconds = max(out.media_seconds, duration)


def extract(job: Job, opts: IngestOptions, transcriber: Transcriber | None) -> Extracted:
    """Never raises for bad input: the reason lands in `Extracted.error`."""
    out = Extracted(job)
    if job.warning:
        out.warnings.append(job.warning)
    try:
        if job.kind == "text":
            extract_text(job, opts, out)
        elif job.kind == "image":
            extract_image(job, opts, out)
        elif job.kind == "audio":
            extract_audio(job, opts, out, transcriber)
        else:
            extract_video(job, opts, out, transcriber)
        if not out.items:
            out.error = "nothing to index in this file"
    except ReadError as exc:
        out.error = str(exc)
    except MemoryError:
        out.error = "out of memory while decoding"
    except Exception as exc:  # noqa: BLE001 - any decoder bug is one bad file, never a failed run
        out.error = f"{type(exc).__name__}: {exc}"
    if out.error:
        out.items = []
    return out


def extract_batch(jobs: list[Job], opts: IngestOptions, transcriber: Transcriber | None) -> list[Extracted]:
    """`extract` for several files; images share one OCR process (much faster than one each)."""
    outs = [extract(job, opts, transcriber) for job in jobs]
    if opts.ocr:
        todo = [o for o in outs if o.job.kind == "image" and not o.error and o.items]
        try:
            texts = media.ocr_images([o.items[0][1] for o in todo], min_conf=opts.ocr_min_conf)
        except Exception as exc:  # noqa: BLE001 - OCR trouble never fails the images themselves
            texts = ["" for _ in todo]
            for o in todo:
                o.warnings.append(f"OCR failed: {type(exc).__name__}: {exc}")
        for o, text in zip(todo, texts):
            if text:
                parent = o.items[0][0]
                o.items.append((_unit(o.job, "image", "text", "ocr", 0, text=text, parent_id=parent.id), text))
    return outs
