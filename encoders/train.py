"""Train the translator heads (seeded, CPU, minutes once features are cached).

Image head: Flickr8k train split (6,000 images x 5 captions), early stopping on the dev split's
text->image recall. Sound heads: ESC-50 fold 4 split grouped by `src_file` (train / dev / test),
text = the category descriptions in `esc50_text.py`, with random time crops of each clip; early
stopping on dev class top-1. AudioCaps is never trained on: it is held out for measurement.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from mmrag.errors import UserError

from . import datasets as ds
from .effnet import DEFAULT_BACKBONE, parse_backbones
from .esc50_text import ESC50_TEXT
from .features import audio_frames, flickr_image_features, parse_audio_kind
from .heads import HeadConfig, TranslatorHead, info_nce, save_head
from .metrics import text_to_item
from .whisper_audio import pool_frames

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# (item features, item grid or None, text embeddings, item labels, text labels): equal labels are positives
Batch = tuple[torch.Tensor, "torch.Tensor | None", torch.Tensor, torch.Tensor, torch.Tensor]


def embed_texts(texts: list[str]) -> np.ndarray:
    """MiniLM embeddings of `texts`, cached per text under the feature cache."""
    path = ds.cache_root() / "minilm-texts.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            known = dict(zip(z["texts"].tolist(), z["emb"]))
    missing = list(dict.fromkeys(t for t in texts if t not in known))  # in the caller's order
    if missing:
        from .minilm import MiniLMEncoder

        enc = MiniLMEncoder(batch_size=128)
        for i in tqdm(range(0, len(missing), 512), desc="MiniLM texts", disable=len(missing) < 1024):
            known.update(zip(missing[i : i + 512], enc.embed_text(missing[i : i + 512])))
            keys = list(known)  # saved after every chunk: a killed run keeps what it embedded
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, texts=np.array(keys), emb=np.stack([known[k] for k in keys]))
            tmp.rename(path)
    return np.stack([known[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, 384), np.float32)


def fit(
    head: TranslatorHead,
    n_items: int,
    make_batch: Callable[[np.ndarray, np.random.Generator], Batch],
    dev_score: Callable[[TranslatorHead], float],
    *,
    seed: int,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    patience: int,
    keep_last: bool = False,
) -> dict[str, Any]:
    """AdamW on symmetric InfoNCE with a learnable temperature; keeps the best dev epoch, or with
    `keep_last` runs exactly `epochs` epochs and keeps the last (when the dev items are trained on,
    with an epoch count chosen beforehand by cross-validation)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state, best_epoch, history = -1.0, None, 0, []
    for epoch in range(1, epochs + 1):
        head.train()
        order = rng.permutation(n_items)
        losses = []
        for start in range(0, n_items - batch_size // 4, batch_size):
            vec, grid, txt, item_labels, text_labels = make_batch(order[start : start + batch_size], rng)
            loss = info_nce(head(vec, grid), txt, item_labels, text_labels, head.logit_scale.exp())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        score = dev_score(head)
        history.append({"epoch": epoch, "loss": round(float(np.mean(losses)), 4), "dev": round(score, 4)})
        print(f"  epoch {epoch:2d} loss {np.mean(losses):.4f} dev {score:.4f}", flush=True)
        if keep_last:
            best, best_epoch = score, epoch
        elif score > best:
            best, best_state, best_epoch = score, copy.deepcopy(head.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    if keep_last:
        head.eval()
        return {"best_epoch": best_epoch, "best_dev": round(best, 4), "history": history, "kept": "last epoch"}
    assert best_state is not None
    head.load_state_dict(best_state)
    head.eval()
    return {"best_epoch": best_epoch, "best_dev": round(best, 4), "history": history}


# ---------------------------------------------------------------- images


def image_inputs(backbones: tuple[str, ...], names: list[str], attn: bool, view: int = 0) -> tuple[np.ndarray, torch.Tensor | None]:
    """vec = per backbone [grid mean, stage means]; grid = backbones' token grids side by side (float16)."""
    vecs, grids = [], []
    for bb in backbones:
        f = flickr_image_features(bb, limit=0, view=view)  # what is extracted; never extracts here
        index = {n: i for i, n in enumerate(f["names"])}
        rows = np.array([index[n] for n in names])
        g = np.asarray(f["grid"][np.sort(rows)])[np.argsort(np.argsort(rows))]
        vecs.append(np.concatenate([g.astype(np.float32).mean(1), f["stages"][rows]], axis=1))
        if attn:
            grids.append(torch.from_numpy(g))
    return np.concatenate(vecs, axis=1), (torch.cat(grids, dim=2) if attn else None)


def flickr_texts(names: list[str]) -> tuple[list[str], list[int]]:
    caps = ds.flickr_captions()
    texts, owner = [], []
    for i, n in enumerate(names):
        for c in caps[n]:
            texts.append(c)
            owner.append(i)
    return texts, owner


def train_image(backbone: str = DEFAULT_BACKBONE, head_kind: str = "linear", attn: bool = True, seed: int = 0,
                out: Path = WEIGHTS_DIR, epochs: int = 30, views: int = 0) -> dict[str, Any]:
    """Each step sees every caption of each image in the batch (5 positives per image) and, per image,
    the original or one of `views` augmented views (random resized crop + flip, features cached)."""
    t0 = time.time()
    backbones = parse_backbones(backbone)
    tr, dv = ds.flickr_split("train"), ds.flickr_split("dev")
    for bb in backbones:
        for v in range(views + 1):
            have = set(flickr_image_features(bb, limit=0, view=v)["names"])
            if missing := [n for n in (tr + dv if v == 0 else tr) if n not in have]:
                raise UserError(f"{len(missing)} images lack {bb} features (view {v}); run `mmrag train-encoders`")
    txt_tr, own_tr = flickr_texts(tr)
    txt_dv, own_dv = flickr_texts(dv)
    emb_tr, emb_dv = embed_texts(txt_tr), embed_texts(txt_dv)
    inputs = [image_inputs(backbones, tr, attn, view=v) for v in range(views + 1)]
    vec_tr, grid_tr = inputs[0]
    vec_dv, grid_dv = image_inputs(backbones, dv, attn)
    caps_of = [np.flatnonzero(np.array(own_tr) == i) for i in range(len(tr))]

    cfg = HeadConfig(kind=head_kind, vec_dim=vec_tr.shape[1], grid_dim=grid_tr.shape[2] if grid_tr is not None else 0,
                     dropout=0.6, features={"extractor": "effnet", "backbones": list(backbones), "image_size": 224, "pixels": "[-1,1]"})
    torch.manual_seed(seed)
    head = TranslatorHead(cfg)
    head.set_stats(vec_tr)
    vts = [torch.from_numpy(v) for v, _ in inputs]
    et = torch.from_numpy(emb_tr)

    def make_batch(idx: np.ndarray, rng: np.random.Generator) -> Batch:
        pick = rng.integers(0, views + 1, len(idx))  # 0: the image as ingested
        vec = torch.stack([vts[v][i] for v, i in zip(pick, idx)])
        grid = torch.stack([inputs[v][1][i] for v, i in zip(pick, idx)]) if attn else None  # type: ignore[index]
        caps = np.concatenate([caps_of[i] for i in idx])
        owners = np.concatenate([np.full(len(caps_of[i]), j) for j, i in enumerate(idx)])
        return vec, grid, et[caps], torch.arange(len(idx)), torch.from_numpy(owners)

    def dev_score(h: TranslatorHead) -> float:
        r = text_to_item(emb_dv, own_dv, h.embed(vec_dv, grid_dv))
        return float(np.mean(list(r.values())))

    print(f"image head: {backbone} {head_kind} attn={attn} views={views} vec {vec_tr.shape}")
    info = fit(head, len(tr), make_batch, dev_score, seed=seed, epochs=epochs, lr=1e-3, weight_decay=0.05,
               batch_size=256, patience=3)
    info.update(seed=seed, train=f"flickr8k train ({len(tr)} images, {len(txt_tr)} captions, {views} augmented views)",
                dev=f"flickr8k dev ({len(dv)} images) text->image mean R@1/5/10", seconds=round(time.time() - t0, 1),
                loss="symmetric InfoNCE (all captions of an image are positives), learnable temperature")
    head.cfg.training = info
    info["sha256"] = save_head(head, Path(out) / "image.safetensors")
    return info


# ---------------------------------------------------------------- sounds


def esc50_split() -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {"train": [], "dev": [], "test": []}
    for row in ds.esc50_rows():
        out[ds.esc50_group_split(row["src_file"])].append(row)
    return out


def class_texts() -> tuple[list[str], np.ndarray]:
    cats = sorted(ESC50_TEXT)
    return cats, embed_texts([ESC50_TEXT[c][0] for c in cats])


# Sound heads trained on train+dev run this many epochs: the best of 20 / 40 / 80 in a 5-fold
# cross-validation over train+dev grouped by src_file (class top-1 0.614 / 0.628 / 0.625).
SOUND_FIXED_EPOCHS = 40


def train_audio(kind: str = "whisper", head_kind: str = "linear", seed: int = 0, out: Path = WEIGHTS_DIR,
                epochs: int | None = None, fit_on: str = "train") -> dict[str, Any]:
    """`fit_on="train"`: early stopping on the dev groups (at most `epochs`, default 200).
    `fit_on="train+dev"`: the dev groups are trained on too, for exactly `epochs` (default
    SOUND_FIXED_EPOCHS); the reported dev figure is then not held out."""
    if fit_on not in ("train", "train+dev"):
        raise UserError(f"fit_on must be 'train' or 'train+dev', not {fit_on!r}")
    t0 = time.time()
    frames = audio_frames(kind, "esc50")
    split = esc50_split()
    cats, canon = class_texts()
    cat_id = {c: i for i, c in enumerate(cats)}
    para = [(cat_id[c], t) for c in cats for t in ESC50_TEXT[c]]
    para_emb = embed_texts([t for _, t in para])
    para_of = [[j for j, (c, _) in enumerate(para) if c == i] for i in range(len(cats))]
    tr = split["train"] + (split["dev"] if fit_on == "train+dev" else [])
    fr_tr = [frames[r["file"]] for r in tr]
    lab_tr = np.array([cat_id[r["category"]] for r in tr])
    vec_tr = np.stack([pool_frames(f) for f in fr_tr])
    vec_dv = np.stack([pool_frames(frames[r["file"]]) for r in split["dev"]])
    lab_dv = np.array([cat_id[r["category"]] for r in split["dev"]])

    features = {**parse_audio_kind(kind), "pooling": "mean+std+max over the segment's frames"}
    extractor = features["extractor"]
    cfg = HeadConfig(kind=head_kind, vec_dim=vec_tr.shape[1], dropout=0.3, features=features)
    torch.manual_seed(seed)
    head = TranslatorHead(cfg)
    head.set_stats(vec_tr)
    pe = torch.from_numpy(para_emb)

    def make_batch(idx: np.ndarray, rng: np.random.Generator) -> Batch:
        vecs = []
        for i in idx:
            f = fr_tr[i]
            n = len(f)
            length = int(rng.integers(max(1, n // 3), n + 1))
            s = int(rng.integers(0, n - length + 1))
            vecs.append(pool_frames(f[s : s + length]))
        txt = np.array([rng.choice(para_of[lab_tr[i]]) for i in idx])
        labels = torch.from_numpy(lab_tr[idx])
        return torch.from_numpy(np.stack(vecs)), None, pe[txt], labels, labels

    def dev_score(h: TranslatorHead) -> float:
        pred = (h.embed(vec_dv) @ canon.T).argmax(1)
        return float((pred == lab_dv).mean())

    print(f"audio head: {kind} {head_kind} train {len(tr)} dev {len(vec_dv)}")
    fixed = fit_on == "train+dev"
    n_epochs = epochs or (SOUND_FIXED_EPOCHS if fixed else 200)
    info = fit(head, len(tr), make_batch, dev_score, seed=seed, epochs=n_epochs, lr=1e-3, weight_decay=0.1,
               batch_size=64, patience=25, keep_last=fixed)
    dev_note = ("ESC-50 dev groups class top-1 (trained on: not held out; epochs fixed by CV)" if fixed
                else "ESC-50 dev groups class top-1")
    info.update(seed=seed, train=f"ESC-50 fold 4 {fit_on}, {len(tr)} clips (groups by src_file)", dev=dev_note,
                seconds=round(time.time() - t0, 1), loss="symmetric InfoNCE (same-class positives), learnable temperature")
    head.cfg.training = info
    name = "audio.safetensors" if extractor == "whisper" else f"audio-{kind}.safetensors"
    info["sha256"] = save_head(head, Path(out) / name)
    return info
