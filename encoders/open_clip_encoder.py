"""open_clip shared-space image encoder ("open-clip"), for users who have CLIP weights.

Default: ViT-B-32 / laion2b_s34b_b79k from the Hugging Face hub (needs the network once, then the
local HF cache). `pretrained` may instead be a local checkpoint file (a state dict saved with
`torch.save(model.state_dict(), path)` or an open_clip release `.pt`/`.bin`/`.safetensors`), which
loads offline. Text queries go through the CLIP text tower, so they land in the image space.

    get_encoder("open-clip")                                       # hub
    get_encoder("open-clip", pretrained="/models/vit-b-32.bin")    # local file, offline
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import BaseEncoder, EncoderError, l2_normalise


class OpenClipEncoder(BaseEncoder):
    name = "open-clip"
    channel = "image"
    space = "cosine"

    def __init__(self, model: str = "ViT-B-32", pretrained: str | None = "laion2b_s34b_b79k", dim: int | None = None,
                 batch_size: int = 32, threads: int = 2) -> None:
        super().__init__()
        self.model_name = model
        self.pretrained = pretrained
        self.batch_size = batch_size
        self.threads = threads
        self.dim = dim or self._config_dim(model)
        self._model: Any = None
        self._preprocess: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @staticmethod
    def _config_dim(model: str) -> int:
        try:
            import open_clip

            cfg = open_clip.get_model_config(model)
        except ImportError as exc:  # pragma: no cover - install problem
            raise EncoderError("open_clip_torch is not installed") from exc
        if not cfg:
            raise EncoderError(f"unknown open_clip model {model!r}")
        return int(cfg["embed_dim"])

    def config(self) -> dict[str, Any]:
        pre = self.pretrained
        if pre and Path(pre).exists():  # a local file: record its name and size, not the machine's path
            pre = f"file:{Path(pre).name}:{Path(pre).stat().st_size}"
        return {**super().config(), "model": self.model_name, "pretrained": pre, "normalise": "l2"}

    def _build(self) -> None:
        import open_clip
        import torch

        torch.set_num_threads(self.threads)
        pre = self.pretrained
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(self.model_name, pretrained=pre or None, device="cpu")
        except Exception as exc:  # hub unreachable, bad checkpoint, ...
            raise EncoderError(
                f"cannot load open_clip {self.model_name} / {pre}: {exc}. Without network access pass "
                "pretrained=<local checkpoint file>."
            ) from exc
        model.eval()
        self._model, self._preprocess = model, preprocess
        self._tokenizer = open_clip.get_tokenizer(self.model_name)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            self.warm_up()
            with torch.inference_mode():
                out = [self._model.encode_text(self._tokenizer([t or "" for t in texts[i : i + 256]]))
                       for i in range(0, len(texts), 256)]
        return l2_normalise(torch.cat(out).float().numpy())

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        import torch
        from PIL import Image

        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            self.warm_up()
            out = []
            for i in range(0, len(images), self.batch_size):
                batch = []
                for img in images[i : i + self.batch_size]:
                    try:
                        img = img if hasattr(img, "convert") else Image.open(img)
                        batch.append(self._preprocess(img.convert("RGB")))
                    except (OSError, ValueError) as exc:
                        raise EncoderError(f"cannot read image: {exc}") from exc
                with torch.inference_mode():
                    out.append(self._model.encode_image(torch.stack(batch)))
        return l2_normalise(torch.cat(out).float().numpy())
