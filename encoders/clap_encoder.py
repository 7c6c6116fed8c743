"""CLAP shared-space sound encoder ("clap") through transformers, for users who have CLAP weights.

Default: `laion/clap-htsat-unfused` from the Hugging Face hub (network once, then the HF cache);
`model` may be a local directory written by `save_pretrained` (model + processor), which loads
offline. Sound is resampled to the processor's rate (48 kHz); text goes through CLAP's text tower.

    get_encoder("clap")                                  # hub
    get_encoder("clap", model="/models/clap-htsat")      # local directory, offline
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import AudioClip, BaseEncoder, EncoderError, l2_normalise

DEFAULT_CLAP = "laion/clap-htsat-unfused"


class ClapEncoder(BaseEncoder):
    name = "clap"
    channel = "audio"
    space = "cosine"

    def __init__(self, model: str = DEFAULT_CLAP, dim: int | None = None, batch_size: int = 8, threads: int = 2) -> None:
        super().__init__()
        self.model_name = model
        self.batch_size = batch_size
        self.threads = threads
        self.dim = dim or self._config_dim(model)
        self._model: Any = None
        self._processor: Any = None
        self._lock = threading.Lock()

    @staticmethod
    def _config_dim(model: str) -> int:
        cfg = Path(model) / "config.json"
        if cfg.exists():
            import json

            return int(json.loads(cfg.read_text()).get("projection_dim", 512))
        return 512  # laion/clap-htsat-* projection size

    def config(self) -> dict[str, Any]:
        model = self.model_name
        if Path(model).exists():
            model = f"dir:{Path(model).name}"
        return {**super().config(), "model": model, "normalise": "l2"}

    def _build(self) -> None:
        import torch
        from transformers import ClapModel, ClapProcessor

        torch.set_num_threads(self.threads)
        try:
            self._model = ClapModel.from_pretrained(self.model_name).eval()
            self._processor = ClapProcessor.from_pretrained(self.model_name)
        except Exception as exc:  # hub unreachable, bad directory, ...
            raise EncoderError(
                f"cannot load CLAP {self.model_name!r}: {exc}. Without network access pass model=<local directory>."
            ) from exc
        self.dim = int(self._model.config.projection_dim)

    @staticmethod
    def _tensor(out: Any) -> Any:
        return out if hasattr(out, "shape") else out.pooler_output

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            self.warm_up()
            inputs = self._processor(text=[t or "" for t in texts], return_tensors="pt", padding=True)
            with torch.inference_mode():
                out = self._tensor(self._model.get_text_features(input_ids=inputs["input_ids"],
                                                                 attention_mask=inputs.get("attention_mask")))
        return l2_normalise(out.float().numpy())

    def embed_audio(self, clips: Sequence[AudioClip]) -> np.ndarray:
        import torch
        from scipy.signal import resample_poly

        if len(clips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            self.warm_up()
            sr = int(self._processor.feature_extractor.sampling_rate)
            out = []
            for i in range(0, len(clips), self.batch_size):
                waves = []
                for c in clips[i : i + self.batch_size]:
                    if not isinstance(c, AudioClip):
                        raise EncoderError(f"expected AudioClip, got {type(c).__name__}")
                    x = np.asarray(c.samples, dtype=np.float32)
                    if c.sample_rate != sr:
                        from math import gcd

                        g = gcd(int(c.sample_rate), sr)
                        x = resample_poly(x, sr // g, int(c.sample_rate) // g).astype(np.float32)
                    waves.append(x if x.size else np.zeros(sr // 10, np.float32))
                # the unfused model takes one crop (long clips: a random 10 s crop); the fused one 4 + global
                trunc = "fusion" if self._model.config.audio_config.enable_fusion else "rand_trunc"
                feats = self._processor.feature_extractor(waves, sampling_rate=sr, return_tensors="pt", truncation=trunc)
                with torch.inference_mode():
                    kwargs = {"is_longer": feats["is_longer"]} if "is_longer" in feats else {}
                    out.append(self._tensor(self._model.get_audio_features(input_features=feats["input_features"], **kwargs)))
        return l2_normalise(torch.cat(out).float().numpy())
