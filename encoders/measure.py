"""Measure the shipped heads on the test splits (numpy cosine over in-memory embeddings, no chroma).

    python -m mmrag.encoders.measure [WEIGHTS_DIR] [--which image|audio|all|none] [--speed]

Prints JSON: Flickr8k test text->image / image->text R@1/5/10 (with a random and a zero-shot
ImageNet-label baseline), ESC-50 held-out groups class top-1/top-5 and clip R@k (Whisper vs
log-mel head), AudioCaps text->audio R@1/5, caption->video R@1/5 over the 35 videos, query latency,
head load time and image ingest throughput per backbone.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets as ds
from .features import audio_frames, audio_kind, flickr_image_features
from .heads import TranslatorHead, load_head
from .metrics import item_to_text, recall_at, text_to_item
from .train import class_texts, embed_texts, esc50_split, flickr_texts, image_inputs
from .whisper_audio import pool_frames


def imagenet_label_baseline(vec: np.ndarray, backbones: list[str], texts_emb: np.ndarray, own: list[int]) -> dict[str, float]:
    """Zero-shot baseline: embed the top-5 predicted ImageNet class names (probability-weighted)."""
    import torch
    from torchvision.models import ResNet50_Weights

    from .effnet import EffNetFeatures

    cats = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    feats = EffNetFeatures(backbones[0])
    feats.warm()
    with torch.inference_mode():
        probs = torch.softmax(feats._model._fc(torch.from_numpy(vec[:, :1280].copy())), dim=1).numpy()
    label_emb = embed_texts([f"a photo of a {c}" for c in cats])
    top = np.argsort(-probs, axis=1)[:, :5]
    w = np.take_along_axis(probs, top, axis=1)
    emb = np.einsum("nk,nkd->nd", w, label_emb[top])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return text_to_item(texts_emb, own, emb)


def measure_image(head_path: Path) -> dict[str, Any]:
    head, _ = load_head(head_path)
    backbones = head.cfg.features["backbones"]
    test = ds.flickr_split("test")
    vec, grid = image_inputs(tuple(backbones), test, head.cfg.grid_dim > 0)
    texts, own = flickr_texts(test)
    t_emb = embed_texts(texts)
    img = np.concatenate([head.embed(vec[i : i + 256], None if grid is None else grid[i : i + 256]) for i in range(0, len(vec), 256)])
    return {
        "backbones": "+".join(backbones),
        "head": head.cfg.kind + ("+attn" if head.cfg.grid_dim else ""),
        "queries": len(texts),
        "images": len(test),
        "text->image": text_to_item(t_emb, own, img),
        "image->text": item_to_text(img, t_emb, own),
        "random text->image": {f"R@{k}": k / len(test) for k in (1, 5, 10)},
        "imagenet-label zero-shot text->image": imagenet_label_baseline(vec, backbones, t_emb, own),
    }


def _sound_vecs(kind: str, dataset: str, files: list[str]) -> np.ndarray:
    frames = audio_frames(kind, dataset)
    return np.stack([pool_frames(frames[f]) for f in files])


def measure_esc(head: TranslatorHead, kind: str) -> dict[str, Any]:
    test = esc50_split()["test"]
    cats, canon = class_texts()
    cat_id = {c: i for i, c in enumerate(cats)}
    lab = np.array([cat_id[r["category"]] for r in test])
    emb = head.embed(_sound_vecs(kind, "esc50", [r["file"] for r in test]))
    sims = emb @ canon.T
    order = np.argsort(-sims, axis=1)
    present = sorted(set(lab.tolist()))
    ranks = np.array([int((canon[c] @ emb.T > max(canon[c] @ emb[lab == c].T)).sum()) for c in present])
    return {
        "clips": len(test),
        "groups": len({r["src_file"] for r in test}),
        "class top-1": round(float((order[:, 0] == lab).mean()), 4),
        "class top-5": round(float((order[:, :5] == lab[:, None]).any(1).mean()), 4),
        "text->clip (class query, any clip of the class)": recall_at(ranks, (1, 5, 10)),
    }


def measure_audiocaps(head: TranslatorHead, kind: str) -> dict[str, Any]:
    caps = ds.audiocaps_captions()
    clips = sorted(caps)
    emb = head.embed(_sound_vecs(kind, "audiocaps", [f"{c}.flac" for c in clips]))
    texts = [t for c in clips for t in caps[c]]
    own = [i for i, c in enumerate(clips) for _ in caps[c]]
    return {"clips": len(clips), "queries": len(texts), "text->audio": text_to_item(embed_texts(texts), own, emb, (1, 5)),
            "random R@5": round(5 / len(clips), 4)}


def measure_all(weights: Path, which: str = "all") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if which in ("image", "all") and (weights / "image.safetensors").exists():
        out["flickr8k"] = measure_image(weights / "image.safetensors")
    if which in ("audio", "all"):
        for label, name in (("whisper", "audio.safetensors"), ("logmel", "audio-logmel.safetensors")):
            if (weights / name).exists():
                head, _ = load_head(weights / name)
                kind = audio_kind(head.cfg.features)
                out[f"esc50 {label}"] = measure_esc(head, kind)
                out[f"audiocaps {label}"] = measure_audiocaps(head, kind)
    if which == "all" and (weights / "image.safetensors").exists() and (weights / "audio.safetensors").exists():
        from .measure_video import measure_videos

        out["videos"] = measure_videos(weights)
    return out


def measure_speed(weights: Path) -> dict[str, Any]:
    """Query latency (MiniLM, one query), head load time, and image ingest throughput per backbone."""
    from PIL import Image

    from .minilm import MiniLMEncoder
    from .translator import EffNetTranslator

    enc = MiniLMEncoder()
    enc.embed_text(["warm up"])
    lat = []
    for i in range(50):
        t = time.perf_counter()
        enc.embed_text([f"a dog running on the beach number {i}"])
        lat.append(time.perf_counter() - t)
    loads = []
    for name in ("image.safetensors", "audio.safetensors", "audio-logmel.safetensors"):
        if (weights / name).exists():
            t = time.perf_counter()
            load_head(weights / name)
            loads.append({"head": name, "seconds": round(time.perf_counter() - t, 4),
                          "bytes": (weights / name).stat().st_size})
    paths = [ds.data_root() / "flickr8k" / "images" / n for n in ds.flickr_split("test")[:128]]  # 4 batches
    imgs = [Image.open(p).convert("RGB") for p in paths]  # decoded once: the backbone rows time resize + model
    from .effnet import EffNetFeatures, parse_backbones, preprocess

    thr = {}
    for bb in ("lite0", "lite1", "lite2", "lite0+lite2"):
        extractors = [EffNetFeatures(b, threads=2) for b in parse_backbones(bb)]
        for e in extractors:
            e.extract(preprocess(imgs[:2]))
        t = time.perf_counter()
        for i in range(0, len(imgs), 32):
            px = preprocess(imgs[i : i + 32])
            for e in extractors:
                e.extract(px)
        thr[bb] = round(len(imgs) / (time.perf_counter() - t), 1)
    translator = EffNetTranslator(weights / "image.safetensors")
    translator.warm_up()  # model load is timed apart (head load above)
    t = time.perf_counter()
    translator.embed_images(paths)  # from the files: decode included
    thr["effnet-translator (default head, end to end)"] = round(len(imgs) / (time.perf_counter() - t), 1)
    return {"query p50 ms": round(1000 * float(np.median(lat)), 2), "head load": loads, "images/s (2 threads)": thr}


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m mmrag.encoders.measure", description=__doc__.split("\n")[0])
    p.add_argument("weights", nargs="?", type=Path, default=Path(__file__).parent / "weights",
                   help="folder with the heads (default: the shipped ones)")
    p.add_argument("--which", choices=("image", "audio", "all", "none"), default="all",
                   help="which recall tables (none: only --speed)")
    p.add_argument("--speed", action="store_true", help="also query latency, head load and images/s")
    args = p.parse_args(argv)
    result = measure_all(args.weights, args.which)
    if args.speed:
        result["speed"] = measure_speed(args.weights)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
