"""Translator encoders: frozen features -> trained head -> L2-normalised 384-d vectors in MiniLM space.

- "effnet-translator" (channel image): EfficientNet-Lite features (backbones named by the head).
- "whisper-translator" (channel audio): Whisper tiny.en encoder hidden states pooled over the segment.
- "logmel-translator" (channel audio): the log-mel statistics baseline.

Queries are embedded by MiniLM (`embed_text`), so a word query finds an image or a sound, and since
every document embedding lives in the same space, image->image and sound->sound search work too.
The head's weights are shipped in `encoders/weights/`; `config()` carries their sha256, so a
collection written with one head refuses another.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import AudioClip, BaseEncoder, EncoderError
from .heads import OUT_DIM, TranslatorHead, file_sha256, load_head
from .minilm import MiniLMEncoder

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class TranslatorEncoder(BaseEncoder):
    default_head = "image.safetensors"
    dim = OUT_DIM
    space = "cosine"

    def __init__(self, head_path: str | Path | None = None, threads: int = 2, batch_size: int = 32) -> None:
        super().__init__()
        self.head_path = Path(head_path) if head_path else WEIGHTS_DIR / self.default_head
        self.threads = threads
        self.batch_size = batch_size
        self.head: TranslatorHead | None = None
        self._text = MiniLMEncoder()
        self._sha: str | None = None
        self._lock = threading.Lock()

    def head_sha256(self) -> str:
        if self._sha is None:
            if not self.head_path.exists():
                raise EncoderError(f"head weights not found: {self.head_path} (run `mmrag train-encoders`)")
            self._sha = file_sha256(self.head_path)
        return self._sha

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "text_model": "sentence-transformers/all-MiniLM-L6-v2",
            "head": self.head_path.name,
            "head_sha256": self.head_sha256()[:16],
            "normalise": "l2",
        }

    def load_head(self) -> TranslatorHead:
        with self._lock:
            if self.head is None:
                import torch

                torch.set_num_threads(self.threads)
                self.head, self._sha = load_head(self.head_path)
                self._check_head(self.head)
        return self.head

    def _check_head(self, head: TranslatorHead) -> None:
        pass

    def _build(self) -> None:
        self.load_head()

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return self._text.embed_text(texts)


class EffNetTranslator(TranslatorEncoder):
    name = "effnet-translator"
    channel = "image"
    default_head = "image.safetensors"

    def __init__(self, head_path: str | Path | None = None, threads: int = 2, batch_size: int = 32) -> None:
        super().__init__(head_path, threads, batch_size)
        self._backbones: list[Any] = []

    def _check_head(self, head: TranslatorHead) -> None:
        if head.cfg.features.get("extractor") != "effnet":
            raise EncoderError(f"{self.head_path} is not an image (effnet) head")

    def _build(self) -> None:
        from .effnet import EffNetFeatures

        head = self.load_head()
        self._backbones = [EffNetFeatures(bb, threads=self.threads) for bb in head.cfg.features["backbones"]]

    def config(self) -> dict[str, Any]:
        import json

        meta = self.head_path.with_suffix(".json")
        backbones = json.loads(meta.read_text()).get("features", {}).get("backbones") if meta.exists() else None
        return {**super().config(), "backbones": backbones, "pixels": "[-1,1]", "image_size": 224}

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        from .effnet import preprocess

        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.warm_up()
        assert self.head is not None
        out = []
        for start in range(0, len(images), self.batch_size):
            try:
                pixels = preprocess(images[start : start + self.batch_size])
            except (OSError, ValueError) as exc:
                raise EncoderError(f"cannot read image: {exc}") from exc
            vecs, grids = [], []
            for bb in self._backbones:
                f = bb.extract(pixels)
                vecs.append(np.concatenate([f["grid"].mean(1), f["stages"]], axis=1))
                grids.append(f["grid"].astype(np.float16).astype(np.float32))
            grid = np.concatenate(grids, axis=2) if self.head.cfg.grid_dim else None
            out.append(self.head.embed(np.concatenate(vecs, axis=1), grid))
        return np.concatenate(out).astype(np.float32)


class SoundTranslator(TranslatorEncoder):
    channel = "audio"
    extractor = "whisper"

    def __init__(self, head_path: str | Path | None = None, threads: int = 2, batch_size: int = 32,
                 window: str | None = None) -> None:
        """`window` overrides the Whisper window the head was trained with ("pad30" or "trim"); only
        for comparisons (the vectors change), e.g. the ingest benchmark's documented-Whisper baseline."""
        super().__init__(head_path, threads, batch_size)
        self.window = window
        self._frames: Any = None

    def _check_head(self, head: TranslatorHead) -> None:
        if head.cfg.features.get("extractor") != self.extractor:
            raise EncoderError(f"{self.head_path} is not a {self.extractor} sound head")

    def _build(self) -> None:
        from .whisper_audio import FINAL_LAYER, LogMelFrames, WhisperFrames

        self.load_head()
        assert self.head is not None
        feats = self.head.cfg.features
        window = self.window or feats.get("window", "pad30")  # older heads: 30 s windows
        if self.extractor == "whisper":
            self._frames = WhisperFrames(threads=self.threads, window=window, layers=feats.get("layers", [FINAL_LAYER]))
        else:
            self._frames = LogMelFrames()

    def config(self) -> dict[str, Any]:
        cfg = {**super().config(), "extractor": self.extractor, "pooling": "mean+std+max", "sample_rate": 16000}
        if self.window:  # the head's sha256 pins its own window; an override must show in the fingerprint
            cfg["window"] = self.window
        return cfg

    def embed_audio(self, clips: Sequence[AudioClip]) -> np.ndarray:
        if len(clips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        for c in clips:
            if not isinstance(c, AudioClip):
                raise EncoderError(f"expected AudioClip, got {type(c).__name__}")
        self.warm_up()
        assert self.head is not None
        return self.head.embed(self._frames.embed_pooled(list(clips))).astype(np.float32)


class WhisperTranslator(SoundTranslator):
    name = "whisper-translator"
    default_head = "audio.safetensors"
    extractor = "whisper"


class LogMelTranslator(SoundTranslator):
    name = "logmel-translator"
    default_head = "audio-logmel.safetensors"
    extractor = "logmel"
