"""Translator heads: frozen features -> the 384-d MiniLM text space, trained with symmetric InfoNCE.

A head sees a pooled feature vector `vec` (n, D) and, optionally, a grid of tokens `grid` (n, T, C)
that it pools with learned attention queries. Inputs are standardised with statistics stored in the
head. `kind` is "linear" (one affine map) or "mlp" (one hidden layer, GELU, with a linear skip).
Heads are saved as safetensors plus a JSON config beside them; `file_sha256` names the exact weights.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, Field
from torch import nn
from torch.nn import functional as F

from .base import EncoderError

OUT_DIM = 384


class HeadConfig(BaseModel):
    """Everything needed to rebuild a head (and the features it expects)."""

    kind: Literal["linear", "mlp"] = "linear"
    vec_dim: int
    grid_dim: int = 0  # 0: no attention pooling
    attn_queries: int = 2
    hidden: int = 1024
    dropout: float = 0.2
    out_dim: int = OUT_DIM
    features: dict[str, Any] = Field(default_factory=dict, description="What the feature extractor was.")
    training: dict[str, Any] = Field(default_factory=dict, description="Recipe and measured results.")


class AttnPool(nn.Module):
    """Attention pooling over the spatial tokens: each learned query scores every token (a linear map,
    cheap enough for a shared CPU) and takes the softmax-weighted mean of the normalised tokens.
    Returns (n, queries * grid_dim)."""

    def __init__(self, grid_dim: int, queries: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(grid_dim, elementwise_affine=False)
        self.score = nn.Linear(grid_dim, queries)
        nn.init.zeros_(self.score.weight)  # starts as mean pooling
        nn.init.zeros_(self.score.bias)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        g = self.norm(grid)
        att = torch.softmax(self.score(g), dim=1)  # (n, T, q)
        return torch.einsum("ntq,ntc->nqc", att, g).flatten(1)


class TranslatorHead(nn.Module):
    def __init__(self, cfg: HeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("vec_mean", torch.zeros(cfg.vec_dim))
        self.register_buffer("vec_std", torch.ones(cfg.vec_dim))
        self.pool = AttnPool(cfg.grid_dim, cfg.attn_queries) if cfg.grid_dim else None
        in_dim = cfg.vec_dim + (cfg.attn_queries * cfg.grid_dim if cfg.grid_dim else 0)
        self.drop = nn.Dropout(cfg.dropout)
        self.linear = nn.Linear(in_dim, cfg.out_dim)
        if cfg.kind == "mlp":
            self.mlp = nn.Sequential(nn.Linear(in_dim, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.out_dim))
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

    def set_stats(self, vec: np.ndarray) -> None:
        self.vec_mean.copy_(torch.from_numpy(vec.mean(0).astype(np.float32)))
        self.vec_std.copy_(torch.from_numpy(vec.std(0).astype(np.float32) + 1e-4))

    def forward(self, vec: torch.Tensor, grid: torch.Tensor | None = None) -> torch.Tensor:
        x = (vec - self.vec_mean) / self.vec_std
        if self.pool is not None:
            if grid is None:
                raise EncoderError("this head needs the spatial grid features")
            x = torch.cat([x, self.pool(grid.float())], dim=1)
        x = self.drop(x)
        y = self.linear(x)
        if self.cfg.kind == "mlp":
            y = y + self.mlp(x)
        return F.normalize(y, dim=-1)

    @torch.inference_mode()
    def embed(self, vec: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
        self.eval()
        g = torch.from_numpy(np.asarray(grid, dtype=np.float32)) if grid is not None else None
        return self(torch.from_numpy(np.asarray(vec, dtype=np.float32)), g).numpy()


def info_nce(a: torch.Tensor, b: torch.Tensor, labels_a: torch.Tensor, labels_b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE; items with equal labels are all positives (soft targets)."""
    logits = scale.clamp(max=100.0) * a @ b.T
    pos = (labels_a[:, None] == labels_b[None, :]).float()
    loss_ab = -(pos / pos.sum(1, keepdim=True) * F.log_softmax(logits, dim=1)).sum(1).mean()
    loss_ba = -(pos.T / pos.T.sum(1, keepdim=True) * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return (loss_ab + loss_ba) / 2


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_head(head: TranslatorHead, path: str | Path) -> str:
    """Write `path` (.safetensors) and `path` with .json; returns the weights' sha256."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # weight matrices in float16 (small to ship); statistics, biases and the temperature in float32
    tensors = {k: (v.half() if v.ndim >= 2 else v.float()).detach().contiguous() for k, v in head.state_dict().items()}
    save_file(tensors, str(path), metadata={"config": head.cfg.model_dump_json()})
    sha = file_sha256(path)
    path.with_suffix(".json").write_text(json.dumps({**head.cfg.model_dump(), "sha256": sha}, indent=2) + "\n")
    return sha


def load_head(path: str | Path) -> tuple[TranslatorHead, str]:
    """Load a head saved by `save_head`; returns (head in eval mode, sha256 of the weights file)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise EncoderError(f"head weights not found: {path} (run `mmrag train-encoders`)")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if "config" not in meta:
        raise EncoderError(f"{path} has no head config in its metadata")
    head = TranslatorHead(HeadConfig.model_validate_json(meta["config"]))
    head.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    head.eval()
    return head, file_sha256(path)
