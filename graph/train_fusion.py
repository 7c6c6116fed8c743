"""`mmrag train-fusion`: trains the MoE gate and the attention fusion, and calibrates confidence.

Data (from ../shared/data train/dev splits; the test split is never used here): a mixed set of
queries whose gold item is in a known modality --
- image: Flickr8k captions -> their photo (train split for training, dev split for evaluation),
- text: Flickr8k captions -> a caption document of another photo set,
- audio: ESC-50 fold-4 categories and AudioCaps captions -> their clip,
- video: MSR-VTT sentences -> their video.
The real image/audio encoders are not required: every item is represented by the MiniLM embedding
of a *different* caption of it plus Gaussian noise of a per-modality strength (stand-in for a
weaker cross-modal encoder; the strengths are in NOISE). So the nets learn from queries' wording
and from per-modality score distributions, not from pixels or sound. Retrieval is exact cosine
top-k per modality; the fusion nets then rank the union.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmrag.graph import fusion_nets as fn
from mmrag.graph.fusion import minmax, zscore

NOISE = {"text": 0.35, "image": 0.9, "audio": 1.1, "video": 0.8}
K = 10
AUDIO_TEMPLATES = ["the sound of {c}", "a recording of {c}", "{c} can be heard", "{c} noise", "listen to {c}"]


def data_root(data: str | None = None) -> Path:
    repo = Path(__file__).resolve().parents[1]
    return Path(data or os.environ.get("MMRAG_DATA", repo.parent / "shared" / "data"))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def build_queries(root: Path, split: str, max_q: int, rng: random.Random) -> tuple[dict, list]:
    """(pool {modality: [(item_id, item_text)]}, queries [(text, modality, item_id)])."""
    caps: dict[str, list[str]] = {}
    for r in _rows(root / "flickr8k" / "captions.csv"):
        caps.setdefault(r["image"], []).append(r["caption"].strip())
    names = [n.strip() for n in (root / "flickr8k" / "splits" / f"{split}.txt").read_text().split() if n.strip() in caps]
    rng.shuffle(names)
    half = min(len(names) // 2, max_q)
    img_names, txt_names = names[:half], names[half : 2 * half]
    pool: dict[str, list[tuple[str, str]]] = {m: [] for m in fn.MODS}
    queries: list[tuple[str, str, str]] = []
    for n in img_names:
        pool["image"].append((n, caps[n][0]))
        queries.append((caps[n][rng.randrange(1, len(caps[n]))], "image", n))
    for n in txt_names:
        pool["text"].append(("doc:" + n, caps[n][0]))
        queries.append((caps[n][rng.randrange(1, len(caps[n]))], "text", "doc:" + n))
    # audio: ESC-50 categories (one item per recording source, split by src_file parity) + AudioCaps
    seen: set[str] = set()
    for r in _rows(root / "esc50" / "esc50_fold4.csv"):
        keep = (int(r["src_file"]) % 2 == 0) == (split == "train")
        c = r["category"].replace("_", " ")
        if keep and r["src_file"] not in seen:
            seen.add(r["src_file"])
            pool["audio"].append((r["file"], rng.choice(AUDIO_TEMPLATES).format(c=c)))
            queries.append((rng.choice(AUDIO_TEMPLATES).format(c=c), "audio", r["file"]))
    ac: dict[str, list[str]] = {}
    for r in _rows(root / "audiocaps" / "captions.csv"):
        ac.setdefault(r["clip"], []).append(r["caption"].strip())
    for clip, cs in ac.items():
        pool["audio"].append((clip, cs[0]))
        queries.append((cs[1 if split == "train" else 2], "audio", clip))
    for r in _rows(root / "msrvtt" / "captions.csv"):
        words = r["sentence"].split()
        pool["video"].append((r["video_id"], r["sentence"]))
        drop = [w for w in words if rng.random() > 0.3] or words
        queries.append((" ".join(drop), "video", r["video_id"]))
    return pool, queries


def retrieve(pool_emb: dict[str, np.ndarray], pool_ids: dict[str, list[str]], q: np.ndarray) -> dict[str, list[tuple[str, float]]]:
    out = {}
    for m, E in pool_emb.items():
        s = E @ q
        idx = np.argsort(-s)[:K]
        out[m] = [(pool_ids[m][i], float(s[i])) for i in idx]
    return out


def examples(pool: dict, queries: list, enc: Any, rng: np.random.Generator) -> list[dict[str, Any]]:
    from mmrag.encoders import l2_normalise

    pool_ids = {m: [i for i, _ in items] for m, items in pool.items()}
    pool_emb = {}
    for m, items in pool.items():
        e = enc.embed_text([t for _, t in items])
        pool_emb[m] = l2_normalise(e + NOISE[m] * rng.standard_normal(e.shape).astype(np.float32) / np.sqrt(e.shape[1]))
    qe = enc.embed_text([q for q, _, _ in queries])
    out = []
    from tqdm import tqdm

    for (text, modality, gold), q in tqdm(list(zip(queries, qe)), desc="fusion examples", leave=False):
        lists = retrieve(pool_emb, pool_ids, q)
        items, feats = [], []
        for m, hs in lists.items():
            mm, zz = minmax([s for _, s in hs]), zscore([s for _, s in hs])
            for r, ((iid, s), a, b) in enumerate(zip(hs, mm, zz), start=1):
                items.append((m, iid, s, a))
                feats.append(fn.item_features(s, a, b, r, m, False, 1))
        gold_idx = next((j for j, (m, iid, _, _) in enumerate(items) if m == modality and iid == gold), -1)
        out.append({"q": q, "items": items, "feats": feats, "gold": gold_idx, "modality": modality, "text": text})
    return out


def _tensors(batch: list[dict[str, Any]]) -> tuple[Any, ...]:
    import torch

    q = torch.tensor(np.stack([b["q"] for b in batch]), dtype=torch.float32)
    f = torch.tensor([b["feats"] for b in batch], dtype=torch.float32)
    raw = torch.tensor([[it[2] for it in b["items"]] for b in batch], dtype=torch.float32)
    mod = torch.tensor([[fn.MODS.index(it[0]) for it in b["items"]] for b in batch])
    gold = torch.tensor([b["gold"] for b in batch])
    return q, f, raw, mod, gold


def _train(model: Any, kind: str, train: list[dict], epochs: int, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    data = [b for b in train if b["gold"] >= 0]
    from tqdm import tqdm

    for _ in tqdm(range(epochs), desc=f"train {kind}", leave=False):
        random.Random(seed + _).shuffle(data)
        for i in range(0, len(data), 64):
            q, f, raw, mod, gold = _tensors(data[i : i + 64])
            if kind == "moe":
                logits = torch.gather(model(q), 1, mod) * raw * 10.0
            else:
                logits = model(f, q)
            loss = torch.nn.functional.cross_entropy(logits, gold)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def _rank_scores(b: dict, name: str, moe: Any = None, att: Any = None) -> np.ndarray:
    import torch

    items = b["items"]
    if name == "score":
        return np.array([it[3] for it in items])
    if name == "rrf":
        per: dict[str, int] = {}
        out = []
        for m, _, _, _ in items:
            per[m] = per.get(m, 0) + 1
            out.append(1.0 / (60 + per[m]))
        return np.array(out)
    q, f, raw, mod, _ = _tensors([b])
    with torch.no_grad():
        if name == "moe":
            return (torch.gather(moe(q), 1, mod) * raw)[0].numpy()
        return att(f, q)[0].numpy()


def evaluate(dev: list[dict], moe: Any, att: Any) -> dict[str, dict[str, float]]:
    res = {}
    for name in ("score", "rrf", "moe", "attention"):
        rr, r1 = [], []
        for b in dev:
            if b["gold"] < 0:
                rr.append(0.0)
                r1.append(0.0)
                continue
            s = _rank_scores(b, name, moe, att)
            raw = [it[2] for it in b["items"]]
            order = sorted(range(len(s)), key=lambda j: (-s[j], -raw[j]))  # fuse()'s tie-break
            rank = 1 + order.index(b["gold"])
            rr.append(1.0 / rank)
            r1.append(float(rank == 1))
        res[name] = {"MRR": round(float(np.mean(rr)), 4), "R@1": round(float(np.mean(r1)), 4)}
    return res


def calibrate(train: list[dict]) -> dict[str, float]:
    """Logistic fit of 'top-1 (score fusion) is the gold item' on top / margin / agreement.
    Every training query has one sub-query, so coverage is always 1 here: its weight keeps the
    default and the fitted bias is shifted so that full coverage gives the fitted probability."""
    import torch

    from mmrag.graph.confidence import DEFAULT_COEF

    X, y = [], []
    for b in train:
        s = np.array([it[3] for it in b["items"]]) + np.array([1e-6 * it[2] for it in b["items"]])
        order = np.argsort(-s)
        top, second = order[0], order[1]
        raw = [it[2] for it in b["items"]]
        best_per: dict[str, float] = {}
        for m, _, r, _ in b["items"]:
            best_per[m] = max(best_per.get(m, -1.0), r)
        agreement = sum(v >= 0.5 * raw[top] for v in best_per.values()) / len(best_per)
        margin = min(1.0, max(0.0, (s[top] - s[second]) / max(abs(s[top]), 1e-9)))
        X.append([min(1.0, max(0.0, raw[top])), margin, agreement])
        y.append(1.0 if top == b["gold"] else 0.0)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    lin = torch.nn.Linear(3, 1)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=200)

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(lin(Xt).squeeze(-1), yt) + 1e-3 * (lin.weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w = lin.weight.detach()[0].tolist()
    cov = DEFAULT_COEF["coverage"]
    return {"bias": float(lin.bias.item()) - cov, "top": w[0], "margin": w[1], "agreement": w[2], "coverage": cov}


def train(data: str | None = None, out: str | None = None, epochs: int = 30, max_queries: int = 1500, seed: int = 0) -> dict[str, Any]:
    import torch

    from mmrag.encoders import get_encoder

    torch.set_num_threads(min(2, torch.get_num_threads()))
    root = data_root(data)
    if not (root / "flickr8k" / "captions.csv").exists():
        from mmrag.errors import UserError

        raise UserError(f"no evaluation data at {root}; set MMRAG_DATA or pass --data")
    t0 = time.time()
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    enc = get_encoder("minilm")
    tr = examples(*build_queries(root, "train", max_queries, rng), enc, nrng)
    dv = examples(*build_queries(root, "dev", max(200, max_queries // 3), rng), enc, nrng)
    moe, att = fn.MoEGate(dim=enc.dim), fn.AttentionFusion(dim=enc.dim)
    _train(moe, "moe", tr, epochs, seed)
    _train(att, "attention", tr, epochs, seed)
    coef = calibrate(tr)
    directory = Path(out) if out else fn.WEIGHTS_DIR
    meta = {"encoder": "minilm", "data": "flickr8k/esc50/audiocaps/msrvtt train; simulated item noise", "noise": json.dumps(NOISE)}
    fn.save(moe, "moe_gate", meta, directory)
    fn.save(att, "attention_fusion", meta, directory)
    dev_metrics = evaluate(dv, moe, att)
    (directory / "confidence.json").write_text(json.dumps(
        {"coefficients": coef, "fitted_on": "simulated train-fusion queries (MiniLM scores, 1000-item pools), "
         "score fusion top-1 correctness; used with Context.calibration='fitted'", "encoder": "minilm"}, indent=1))
    (directory / "fusion_metrics.json").write_text(json.dumps({"dev": dev_metrics, "noise": NOISE}, indent=1))
    fn._CACHE.clear()
    q_by_mod = {m: sum(1 for b in tr if b["modality"] == m) for m in fn.MODS}
    return {"train_queries": q_by_mod, "dev_queries": len(dv), "dev": dev_metrics, "confidence_coefficients": coef,
            "weights": str(directory), "seconds": round(time.time() - t0, 1)}
