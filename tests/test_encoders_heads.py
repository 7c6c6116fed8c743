"""Translator heads: shapes, InfoNCE, training on a synthetic task, safetensors round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mmrag.encoders.base import EncoderError
from mmrag.encoders.heads import HeadConfig, TranslatorHead, info_nce, load_head, save_head
from mmrag.encoders.metrics import item_to_text, text_to_item
from mmrag.encoders.train import fit


def _synthetic(n: int = 300, d_in: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features are a hidden linear map of the targets plus noise, with a 3x4 'grid'."""
    rng = np.random.default_rng(seed)
    target = rng.standard_normal((n, 384)).astype(np.float32)
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    w = rng.standard_normal((384, d_in)).astype(np.float32)
    vec = target @ w + 0.1 * rng.standard_normal((n, d_in)).astype(np.float32)
    grid = np.repeat(vec[:, None, :8], 12, axis=1) + 0.1 * rng.standard_normal((n, 12, 8)).astype(np.float32)
    return vec, grid, target


@pytest.mark.parametrize("kind,grid_dim", [("linear", 0), ("mlp", 0), ("linear", 8)])
def test_head_outputs_unit_vectors(kind: str, grid_dim: int) -> None:
    vec, grid, _ = _synthetic(10)
    head = TranslatorHead(HeadConfig(kind=kind, vec_dim=40, grid_dim=grid_dim))
    out = head.embed(vec, grid if grid_dim else None)
    assert out.shape == (10, 384)
    assert np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)


def test_attention_head_requires_grid() -> None:
    head = TranslatorHead(HeadConfig(vec_dim=40, grid_dim=8))
    with pytest.raises(EncoderError, match="grid"):
        head.embed(np.zeros((2, 40), np.float32))


def test_info_nce_prefers_aligned_pairs_and_handles_shared_labels() -> None:
    a = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    labels = torch.arange(8)
    aligned = info_nce(a, a, labels, labels, torch.tensor(10.0))
    shuffled = info_nce(a, a[torch.randperm(8)], labels, labels, torch.tensor(10.0))
    assert aligned < shuffled
    same = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])  # two positives each: loss stays finite
    assert torch.isfinite(info_nce(a, a, same, same, torch.tensor(10.0)))


def test_fit_learns_the_synthetic_translation_with_early_stopping() -> None:
    vec, _, target = _synthetic()
    tr, dv = slice(0, 200), slice(200, 300)
    head = TranslatorHead(HeadConfig(vec_dim=40, dropout=0.0))
    head.set_stats(vec[tr])
    before = text_to_item(target[dv], list(range(100)), head.embed(vec[dv]))["R@1"]

    def make_batch(idx: np.ndarray, rng: np.random.Generator):
        labels = torch.from_numpy(idx)
        return torch.from_numpy(vec[idx]), None, torch.from_numpy(target[idx]), labels, labels

    def dev(h: TranslatorHead) -> float:
        return text_to_item(target[dv], list(range(100)), h.embed(vec[dv]))["R@1"]

    info = fit(head, 200, make_batch, dev, seed=0, epochs=40, lr=3e-3, weight_decay=0.0, batch_size=50, patience=5)
    after = dev(head)
    assert before < 0.1 and after > 0.5, (before, after)
    assert info["best_dev"] == pytest.approx(after, abs=1e-4)
    assert item_to_text(head.embed(vec[dv]), target[dv], list(range(100)))["R@5"] > 0.7


def test_fit_keep_last_runs_exactly_the_epochs_and_keeps_the_last() -> None:
    vec, _, target = _synthetic()
    head = TranslatorHead(HeadConfig(vec_dim=40, dropout=0.0))
    head.set_stats(vec[:200])

    def make_batch(idx: np.ndarray, rng: np.random.Generator):
        labels = torch.from_numpy(idx)
        return torch.from_numpy(vec[idx]), None, torch.from_numpy(target[idx]), labels, labels

    scores = iter([0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])  # best first: early stopping would stop and roll back
    info = fit(head, 200, make_batch, lambda h: next(scores), seed=0, epochs=7, lr=3e-3, weight_decay=0.0,
               batch_size=50, patience=2, keep_last=True)
    assert len(info["history"]) == 7 and info["best_epoch"] == 7 and info["kept"] == "last epoch"
    assert info["best_dev"] == 0.6


def test_save_load_round_trip(tmp_path: Path) -> None:
    vec, grid, _ = _synthetic(6)
    head = TranslatorHead(HeadConfig(kind="mlp", vec_dim=40, grid_dim=8, features={"extractor": "effnet", "backbones": ["lite0"]}))
    head.set_stats(vec)
    sha = save_head(head, tmp_path / "h.safetensors")
    loaded, sha2 = load_head(tmp_path / "h.safetensors")
    assert sha == sha2 and len(sha) == 64
    assert loaded.cfg == head.cfg
    assert np.allclose(loaded.embed(vec, grid), head.embed(vec, grid), atol=2e-3)  # float16 weights
    assert (tmp_path / "h.json").exists()


def test_load_missing_head_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="train-encoders"):
        load_head(tmp_path / "none.safetensors")
