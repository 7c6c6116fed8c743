"""The two learned fusion networks (small, CPU) and their offline weights.

- `MoEGate`: query embedding -> per-modality weights (softmax x 4, so uniform = 1 each).
- `AttentionFusion`: scores each retrieved item from its features and the query, attending over
  the other retrieved items.

Weights live in `graph/weights/*.safetensors` (trained by `mmrag train-fusion`), with the encoder
that embedded the training queries in their metadata, and load without any network access.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import torch
from torch import nn

MODS = ("text", "image", "audio", "video")
N_FEATURES = 10  # see item_features()
WEIGHTS_DIR = Path(__file__).with_name("weights")
_CACHE: dict[str, tuple[nn.Module, dict[str, str]]] = {}
_LOCK = threading.Lock()


class MoEGate(nn.Module):
    def __init__(self, dim: int = 384, hidden: int = 32) -> None:
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, len(MODS)))

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        """(B, dim) -> (B, 4) weights summing to 4."""
        return torch.softmax(self.net(q), dim=-1) * len(MODS)


class AttentionFusion(nn.Module):
    def __init__(self, dim: int = 384, hidden: int = 16) -> None:
        super().__init__()
        self.dim = dim
        self.item = nn.Linear(N_FEATURES, hidden)
        self.query = nn.Linear(dim, hidden)
        self.attn = nn.MultiheadAttention(hidden, num_heads=2, batch_first=True)
        self.out = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, feats: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """feats (B, N, F), q (B, dim), mask (B, N) True = padding -> logits (B, N)."""
        h = torch.tanh(self.item(feats) + self.query(q)[:, None, :])
        ctx, _ = self.attn(h, h, h, key_padding_mask=mask)
        logits = self.out(torch.cat([h, ctx], dim=-1)).squeeze(-1)
        if mask is not None:
            logits = logits.masked_fill(mask, -1e4)
        return logits


def item_features(
    raw: float, minmax: float, z: float, rank: int, modality: str, dominant: bool, channels: int
) -> list[float]:
    """The 10 features AttentionFusion sees for one item."""
    onehot = [1.0 if modality == m else 0.0 for m in MODS]
    return [raw, minmax, z, 1.0 / max(rank, 1), *onehot, 1.0 if dominant else 0.0, channels / 3.0]


def save(model: nn.Module, name: str, meta: dict[str, str], directory: Path = WEIGHTS_DIR) -> Path:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.safetensors"
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={**meta, "dim": str(model.dim)})
    return path


def load(name: str, directory: Path = WEIGHTS_DIR) -> tuple[nn.Module, dict[str, str]]:
    """(model, metadata) for 'moe_gate' or 'attention_fusion'; cached; eval mode."""
    path = directory / f"{name}.safetensors"
    key = str(path)
    with _LOCK:
        if key not in _CACHE:
            if not path.exists():
                raise FileNotFoundError(f"no fusion weights at {path}; run `mmrag train-fusion`")
            from safetensors import safe_open
            from safetensors.torch import load_file

            with safe_open(str(path), framework="pt") as f:
                meta: dict[str, Any] = dict(f.metadata() or {})
            cls = MoEGate if name == "moe_gate" else AttentionFusion
            model = cls(dim=int(meta.get("dim", 384)))
            model.load_state_dict(load_file(str(path)))
            model.eval()
            _CACHE[key] = (model, meta)
        return _CACHE[key]
