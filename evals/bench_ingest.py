"""Ingest benchmark: the whole `mmrag ingest` pipeline beside its floor and a naive baseline.

For each modality (images from Flickr8k, audio from ESC-50, video from MSR-VTT + AudioCaps) the
same files are ingested three ways, `repeat` times each, into fresh stores:

- pipeline: `mmrag.stores.ingest.run_ingest` (discover, extract in a thread pool, batched encode,
  batched upsert, per-file commit), as `mmrag ingest` runs it;
- floor: the encoders alone on the same payloads in the same batch sizes (decoding done beforehand,
  untimed), the cost no pipeline on this CPU can beat;
- naive: what a user of chroma's multimodal docs writes: per item, decode, call a chroma
  `EmbeddingFunction` on that one item, `collection.add` that one item. Its sound encoder runs
  Whisper as documented (every input padded to a 30 s window, `naive_window="pad30"`); the pipeline's
  encoder feeds Whisper only the segment's real frames. `naive_same_encoder` also runs the naive loop
  with the pipeline's own encoders, which isolates what batching and overlap alone buy.

The serial breakdown (decode, model, chroma writes, each timed alone) shows where the time goes.
Models are loaded once, before any timing. OCR and transcripts are off by default (`--ocr`,
`--transcripts` switch them on) so the floor is the embedding encoders alone.
"""

from __future__ import annotations

import json
import os
import sys
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pydantic import BaseModel, Field

from mmrag.evals.bench_naive import naive_encoders, run_naive
from mmrag.evals.benchutil import median, ratio

KIND_UNIT = {"image": "images/s", "audio": "audio s/s", "video": "video s/s"}


class IngestBenchConfig(BaseModel):
    data: str | None = None
    limit: int = Field(64, description="files per modality (0 = all)")
    video_limit: int = Field(6, description="videos (each is many keyframes and sound segments)")
    naive_limit: int = Field(24, description="files per modality for the (slow) naive baseline")
    repeat: int = 3
    modalities: str = "image,audio,video"
    naive: bool = True
    ocr: bool = False
    transcripts: bool = False
    workers: int = 2
    encoders: dict[str, str] = Field(default_factory=dict, description="channel -> encoder name overrides")
    stand_in_heads: bool = Field(False, description="random translator heads of the shipped shape (timing only)")
    naive_window: str = Field("pad30", description="Whisper window of the naive baseline's sound encoder")
    naive_same_encoder: bool = Field(True, description="also time the naive loop with the pipeline's encoders")


def data_root(cfg: IngestBenchConfig) -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(cfg.data or os.environ.get("MMRAG_DATA", str(default)))


def select_files(root: Path, kind: str, limit: int) -> list[Path]:
    pats = {"image": [("flickr8k/images", "*.jpg")], "audio": [("esc50/audio", "*.flac"), ("audiocaps/audio", "*.flac")],
            "video": [("msrvtt/video", "*.mp4"), ("audiocaps/video", "*.mp4")]}[kind]
    files = [p for d, pat in pats for p in sorted((root / d).glob(pat))]
    return files[:limit] if limit else files


def stage(files: Sequence[Path], dest: Path) -> Path:
    """A folder of symbolic links to `files` (the data is never copied)."""
    dest.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        (dest / f"{i:05d}_{f.name}").symlink_to(f.resolve())
    return dest


def _jobs(folder: Path) -> list[Any]:
    from mmrag.stores.discover import discover, file_hash, sniff
    from mmrag.stores.extract import Job

    jobs = []
    for cand in discover(folder, follow_links=True).files:
        st = cand.path.stat()
        sn = sniff(cand.path)
        jobs.append(Job(cand.path, cand.source, file_hash(cand.path), sn.media_type or "", sn.kind or "image",
                        None, st.st_size, st.st_mtime_ns))
    return jobs


def _store(path: Path, encoders: dict[str, Any]) -> Any:
    from mmrag.stores.chroma_store import VectorStore

    return VectorStore(path, encoders=encoders)  # type: ignore[arg-type]


def run_pipeline(folder: Path, store_dir: Path, encoders: dict[str, Any], opts: Any) -> dict[str, Any]:
    from mmrag.stores.ingest import run_ingest

    store = _store(store_dir, encoders)
    t = time.perf_counter()
    rep = run_ingest(folder, store, opts, follow_links=True, progress=False)
    secs = time.perf_counter() - t
    return {"s": secs, "files": rep.files_ingested, "units": sum(rep.units_added.values()),
            "media_seconds": dict(rep.media_seconds), "issues": len(rep.issues)}


def run_serial(folder: Path, store_dir: Path, encoders: dict[str, Any], opts: Any, transcriber: Any) -> dict[str, Any]:
    """decode alone, then the encoders alone in the pipeline's batch sizes (the floor), then writes alone."""
    from mmrag.stores.extract import extract

    t = time.perf_counter()
    extracted = [extract(j, opts, transcriber) for j in _jobs(folder)]
    decode_s = time.perf_counter() - t
    groups: dict[tuple[str, str], list[tuple[Any, Any]]] = defaultdict(list)
    for ex in extracted:
        for unit, payload in ex.items:
            groups[(unit.modality, unit.channel)].append((unit, payload))
    sizes = {"text": opts.text_batch, "image": opts.image_batch, "audio": opts.audio_batch}
    encode_s, vecs = 0.0, {}
    for key, items in groups.items():
        enc, bs, parts = encoders[key[1]], sizes[key[1]], []
        for i in range(0, len(items), bs):
            t = time.perf_counter()
            parts.append(enc.embed([p for _, p in items[i : i + bs]]))
            encode_s += time.perf_counter() - t
        vecs[key] = np.concatenate(parts)
    store = _store(store_dir, encoders)
    for key in groups:  # collection creation is not a write cost
        store.collection(*key)
    t = time.perf_counter()
    for key, items in groups.items():
        units = [u for u, _ in items]
        for i in range(0, len(units), sizes[key[1]]):
            store.upsert(units[i : i + sizes[key[1]]], vecs[key][i : i + sizes[key[1]]])
    write_s = time.perf_counter() - t
    return {"decode_s": decode_s, "encode_s": encode_s, "write_s": write_s,
            "units": sum(len(v) for v in groups.values())}


def _media_amount(kind: str, files: int, media_seconds: dict[str, float]) -> float:
    return float(files) if kind == "image" else float(media_seconds.get(kind, 0.0))


def bench_kind(kind: str, files: list[Path], cfg: IngestBenchConfig, encoders: dict[str, Any], work: Path,
               naive_encs: dict[str, Any] | None = None) -> dict[str, Any]:
    from mmrag.stores.extract import IngestOptions

    opts = IngestOptions(ocr=cfg.ocr, transcripts=cfg.transcripts, workers=cfg.workers)
    transcriber = None
    if cfg.transcripts:
        from mmrag.stores.transcribe import Transcriber

        transcriber = Transcriber()
    folder = stage(files, work / f"data-{kind}")
    warm = stage(files[:2], work / f"warm-{kind}")  # first-run costs (imports, pools) are not timed
    run_pipeline(warm, work / f"warm-pipe-{kind}", encoders, opts)
    run_serial(warm, work / f"warm-serial-{kind}", encoders, opts, transcriber)
    nfolder = stage(files[: cfg.naive_limit], work / f"naive-data-{kind}") if cfg.naive else None
    naive_encs = naive_encs or encoders
    same = cfg.naive_same_encoder and kind != "image" and naive_encs.get("audio") is not encoders.get("audio")
    pipe, serial, naive, naive_same = [], [], [], []
    for r in range(cfg.repeat):  # interleaved, so that a machine whose load drifts hits all alike
        pipe.append(run_pipeline(folder, work / f"pipe-{kind}-{r}", encoders, opts))
        serial.append(run_serial(folder, work / f"serial-{kind}-{r}", encoders, opts, transcriber))
        if nfolder is not None:
            naive.append(run_naive(nfolder, work / f"naive-{kind}-{r}", naive_encs, opts, transcriber))
            if same:
                naive_same.append(run_naive(nfolder, work / f"naive-same-{kind}-{r}", encoders, opts, transcriber))
    amount = _media_amount(kind, pipe[0]["files"], pipe[0]["media_seconds"])
    pipe_s = median([p["s"] for p in pipe])
    floor_s = median([s["encode_s"] for s in serial])
    out: dict[str, Any] = {
        "kind": kind, "files": pipe[0]["files"], "units": pipe[0]["units"], "media_amount": amount,
        "unit": KIND_UNIT[kind], "pipeline_s": pipe_s, "pipeline_runs_s": [p["s"] for p in pipe],
        "pipeline_rate": ratio(amount, pipe_s), "floor_s": floor_s, "floor_runs_s": [s["encode_s"] for s in serial],
        "floor_rate": ratio(amount, floor_s), "decode_s": median([s["decode_s"] for s in serial]),
        "write_s": median([s["write_s"] for s in serial]), "overhead_vs_encoder_floor": ratio(pipe_s, floor_s),
        "issues": pipe[0]["issues"],
    }
    out["serial_sum_s"] = out["decode_s"] + floor_s + out["write_s"]
    if nfolder is not None:
        probe = run_pipeline(nfolder, work / f"naive-probe-{kind}", encoders, opts)  # amount in the subset
        n_amount = _media_amount(kind, probe["files"], probe["media_seconds"])
        naive_s = median([n["s"] for n in naive])
        out.update({"naive_files": probe["files"], "naive_s": naive_s, "naive_runs_s": [n["s"] for n in naive],
                    "naive_rate": ratio(n_amount, naive_s)})
        out["speedup_vs_naive"] = ratio(out["pipeline_rate"], out["naive_rate"])
        if naive_same:
            same_s = median([n["s"] for n in naive_same])
            out.update({"naive_same_encoder_s": same_s, "naive_same_encoder_runs_s": [n["s"] for n in naive_same],
                        "naive_same_encoder_rate": ratio(n_amount, same_s)})
            out["speedup_vs_naive_same_encoder"] = ratio(out["pipeline_rate"], out["naive_same_encoder_rate"])
    return out


def run_ingest_bench(cfg: IngestBenchConfig) -> dict[str, Any]:
    from mmrag.encoders import get_encoder
    from mmrag.stores.chroma_store import DEFAULT_ENCODERS
    from mmrag.errors import UserError

    root = data_root(cfg)
    kinds = [k.strip() for k in cfg.modalities.split(",") if k.strip()]
    if bad := [k for k in kinds if k not in KIND_UNIT]:
        raise UserError(f"unknown modality {bad}; choose from image,audio,video")
    names = {**DEFAULT_ENCODERS, **cfg.encoders}
    heads = stand_in_heads(Path(tempfile.mkdtemp(prefix="mmrag-heads-"))) if cfg.stand_in_heads else {}
    encoders = {ch: get_encoder(n, head_path=heads[ch]) if ch in heads and "translator" in n else get_encoder(n)
                for ch, n in names.items()}
    t = time.perf_counter()
    for enc in encoders.values():
        enc.warm_up()
    load_s = time.perf_counter() - t
    naive_encs = naive_encoders(encoders, cfg.naive_window) if cfg.naive else encoders
    rows = []
    work = Path(tempfile.mkdtemp(prefix="mmrag-bench-ingest-"))
    try:
        for kind in kinds:
            files = select_files(root, kind, cfg.video_limit if kind == "video" else cfg.limit)
            if not files:
                raise UserError(f"no {kind} files under {root} (set --data or MMRAG_DATA)")
            rows.append(bench_kind(kind, files, cfg, encoders, work, naive_encs))
            print(f"bench ingest: {kind} done: {rows[-1]['overhead_vs_encoder_floor']:.2f}x the floor, "
                  f"{rows[-1].get('speedup_vs_naive', float('nan')):.2f}x naive", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    worst = max(r["overhead_vs_encoder_floor"] for r in rows)
    speed = [r["speedup_vs_naive"] for r in rows if "speedup_vs_naive" in r]
    return {"bench": "ingest", "config": cfg.model_dump(), "encoders": names,
            "heads": "stand-in (random, same shape)" if heads else "shipped", "model_load_s": load_s,
            "torch_threads": _torch_threads(), "kinds": rows, "overhead_vs_encoder_floor": worst,
            "speedup_vs_naive": min(speed) if speed else None,
            "goal_met": bool(worst <= 1.2 and (not speed or min(speed) >= 3.0))}


def stand_in_heads(folder: Path) -> dict[str, Path]:
    """Random linear translator heads with the trained heads' inputs: the same compute, for timing
    where the trained weights are not (yet) present. Their vectors are meaningless."""
    from mmrag.encoders.effnet import DEFAULT_BACKBONE, EffNetFeatures
    from mmrag.encoders.heads import HeadConfig, TranslatorHead, save_head

    stage = EffNetFeatures(DEFAULT_BACKBONE).stage_dim
    heads = {"image": (1280 + stage, {"extractor": "effnet", "backbones": [DEFAULT_BACKBONE]}),
             "audio": (3 * 384, {"extractor": "whisper", "window": "trim"})}
    out = {}
    for ch, (dim, feats) in heads.items():
        out[ch] = folder / f"{ch}.safetensors"
        save_head(TranslatorHead(HeadConfig(vec_dim=dim, features=feats)), out[ch])
    return out


def _torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:  # pragma: no cover
        return None


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"### ingest ({res['config']['repeat']} runs, medians; encoders {res['encoders']}, heads "
        f"{res.get('heads', 'shipped')}, torch threads {res['torch_threads']})", "",
        "| modality | files | pipeline | encoders alone (floor) | naive one-by-one | overhead vs floor | "
        "speedup vs naive | decode / model / writes (serial s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in res["kinds"]:
        naive = f"{r['naive_rate']:.2f} {r['unit']}" if "naive_rate" in r else "-"
        speed = f"{r['speedup_vs_naive']:.2f}x" if "speedup_vs_naive" in r else "-"
        if "speedup_vs_naive_same_encoder" in r:
            speed += f" ({r['speedup_vs_naive_same_encoder']:.2f}x same encoder)"
        lines.append(
            f"| {r['kind']} | {r['files']} | {r['pipeline_rate']:.2f} {r['unit']} ({r['pipeline_s']:.1f} s) | "
            f"{r['floor_rate']:.2f} {r['unit']} ({r['floor_s']:.1f} s) | {naive} | "
            f"{r['overhead_vs_encoder_floor']:.2f}x | {speed} | "
            f"{r['decode_s']:.1f} / {r['floor_s']:.1f} / {r['write_s']:.1f} |"
        )
    return "\n".join(lines)


def main_ingest(cfg: IngestBenchConfig, out: str | None = None, as_json: bool = False) -> dict[str, Any]:
    res = run_ingest_bench(cfg)
    if out:
        Path(out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2) if as_json else markdown(res))
    return res
