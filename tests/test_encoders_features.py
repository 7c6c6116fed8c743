"""Frozen feature extractors: EfficientNet-Lite (pixels in [-1, 1]) and Whisper tiny.en frames."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from mmrag.encoders.base import AudioClip, EncoderError
from mmrag.encoders.effnet import EffNetFeatures, parse_backbones, preprocess
from mmrag.encoders.whisper_audio import LogMelFrames, WhisperFrames, pool_frames, to_16k


def test_preprocess_scales_pixels_to_minus_one_one() -> None:
    img = Image.new("RGB", (300, 200), (255, 0, 128))
    x = preprocess([img])
    assert x.shape == (1, 3, 224, 224)
    assert x[0, 0].max() == pytest.approx(1.0) and x[0, 1].min() == pytest.approx(-1.0)
    assert abs(float(x[0, 2].mean()) - (128 / 127.5 - 1)) < 1e-3


def test_parse_backbones() -> None:
    assert parse_backbones("lite0+lite2") == ("lite0", "lite2")
    assert parse_backbones("lite1") == ("lite1",)
    with pytest.raises(EncoderError):
        parse_backbones("lite7")


def test_pool_frames_and_resampling() -> None:
    f = np.arange(12, dtype=np.float32).reshape(4, 3)
    p = pool_frames(f)
    assert p.shape == (9,) and np.allclose(p[:3], f.mean(0)) and np.allclose(p[6:], f.max(0))
    assert to_16k(AudioClip(np.zeros(44100, np.float32), 44100)).shape == (16000,)


@pytest.mark.integration
@pytest.mark.parametrize("backbone", ["lite0", "lite1", "lite2"])
def test_backbone_features_and_imagenet_sanity(data_dir, backbone) -> None:
    """With [-1, 1] pixels each packaged backbone's frozen classifier recognises dogs in Flickr8k dog photos."""
    import torch

    names = []
    with open(data_dir / "flickr8k" / "captions.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["caption_index"] == "0" and " dog " in f" {row['caption'].lower()} " and row["image"] not in names:
                names.append(row["image"])
            if len(names) == 8:
                break
    feats = EffNetFeatures(backbone, threads=2)
    out = feats.extract(preprocess([data_dir / "flickr8k" / "images" / n for n in names]))
    assert out["grid"].shape == (8, 49, 1280) and out["stages"].shape == (8, feats.stage_dim)
    with torch.inference_mode():
        logits = feats._model._fc(torch.from_numpy(out["grid"].mean(1)))
    top5 = logits.topk(5, dim=1).indices.numpy()
    dogish = ((top5 >= 151) & (top5 <= 268)).any(1)  # ImageNet dog breeds
    assert dogish.mean() >= 0.6, top5


@pytest.mark.integration
def test_whisper_frames_cover_the_clip() -> None:
    rng = np.random.default_rng(0)
    w = WhisperFrames()
    five = AudioClip(rng.standard_normal(5 * 44100).astype(np.float32) * 0.1, 44100)
    assert w.frames(five).shape == (250, 384)
    long = AudioClip(rng.standard_normal(35 * 16000).astype(np.float32) * 0.1, 16000)
    assert w.frames(long).shape == (1750, 384)  # two 30 s windows, only the covered frames
    silence = AudioClip(np.zeros(16000, np.float32), 16000)
    a, b = w.embed_pooled([five, silence])
    assert a.shape == (1152,) and not np.allclose(a, b)
    m = LogMelFrames().frames(five)
    assert m.shape == (500, 80)


def test_audio_kind_round_trip() -> None:
    from mmrag.encoders.features import audio_kind, parse_audio_kind

    for kind in ("logmel", "whisper", "whisper-trim", "whisper-trim-L2", "whisper-L1+2"):
        assert audio_kind(parse_audio_kind(kind)) == kind
    assert audio_kind({"extractor": "whisper"}) == "whisper"  # heads saved before trimming and layers
    for bad in ("whisper-L9", "whisper-Lx", "clap", "whisper-trim-pad"):
        with pytest.raises(ValueError):
            parse_audio_kind(bad)
    with pytest.raises(EncoderError):
        WhisperFrames(window="trim", layers=[5])
    with pytest.raises(EncoderError):
        WhisperFrames(window="pad29")


@pytest.mark.integration
def test_whisper_trimmed_windows_and_middle_layers() -> None:
    """A trimmed window encodes only the real frames; the final layer from torch equals CTranslate2's."""
    rng = np.random.default_rng(1)
    five = AudioClip(rng.standard_normal(5 * 16000).astype(np.float32) * 0.1, 16000)
    ct2 = WhisperFrames(window="trim", threads=1).frames(five)
    assert ct2.shape == (250, 384)
    torch_frames = WhisperFrames(window="trim", threads=1, layers=[2, 4]).frames(five)
    assert torch_frames.shape == (250, 768)
    cos = (torch_frames[:, 384:] * ct2).sum(1) / np.linalg.norm(ct2, axis=1) / np.linalg.norm(torch_frames[:, 384:], axis=1)
    assert cos.mean() > 0.999
    short = AudioClip(rng.standard_normal(4000).astype(np.float32), 16000)  # 0.25 s: padded to the 1 s minimum
    assert WhisperFrames(window="trim", threads=1).frames(short).shape == (13, 384)
    padded = WhisperFrames(window="pad30", threads=1).frames(five)
    assert padded.shape == (250, 384) and not np.allclose(padded, ct2, atol=1e-2)
