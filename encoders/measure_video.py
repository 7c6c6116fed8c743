"""Caption -> video retrieval over the 35 test videos (MSR-VTT 24 + AudioCaps 11).

A video is scored by its keyframes through the image head (max over keyframes) and by its sound
track through the sound head; the two cosines are fused by max or by mean. Transcripts (speech as
text) are the text channel's job and are not used here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import datasets as ds
from .features import audio_frames, audio_kind
from .heads import load_head
from .metrics import recall_at
from .train import embed_texts
from .whisper_audio import pool_frames


def keyframes(path: Path, every_s: float = 2.0, max_frames: int = 8) -> list[Any]:
    """PIL keyframes at 0.5 s, then every `every_s` seconds (at most `max_frames`)."""
    import av

    frames, next_t = [], 0.5
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            if t >= next_t:
                frames.append(frame.to_image())
                next_t += every_s
                if len(frames) >= max_frames:
                    break
    return frames


def measure_videos(weights: Path) -> dict[str, Any]:
    from .translator import EffNetTranslator

    videos = ds.video_captions()
    paths = sorted(videos)
    enc = EffNetTranslator(weights / "image.safetensors")
    img_scores_by_video = [enc.embed_images(keyframes(p)) for p in paths]
    audio_head, _ = load_head(weights / "audio.safetensors")
    frames = audio_frames(audio_kind(audio_head.cfg.features), "videos")
    snd = audio_head.embed(np.stack([pool_frames(frames[p.name]) for p in paths]))
    texts = [t for p in paths for t in videos[p]]
    own = [i for i, p in enumerate(paths) for _ in videos[p]]
    q = embed_texts(texts)
    img = np.stack([(q @ kf.T).max(1) for kf in img_scores_by_video], axis=1)  # (queries, videos)
    aud = q @ snd.T
    out: dict[str, Any] = {"videos": len(paths), "queries": len(texts)}
    for name, s in (("keyframes", img), ("sound", aud), ("max", np.maximum(img, aud)), ("mean", (img + aud) / 2)):
        ranks = np.array([int((s[i] > s[i, own[i]]).sum()) for i in range(len(texts))])
        out[f"caption->video ({name})"] = recall_at(ranks, (1, 5))
    out["random R@5"] = round(5 / len(paths), 4)
    return out
