"""Translator encoders: frozen features -> head -> MiniLM space; shipped heads; real-data sanity."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmrag.encoders import AudioClip, EncoderError, get_encoder
from mmrag.encoders.heads import HeadConfig, TranslatorHead, file_sha256, load_head, save_head
from mmrag.encoders.translator import WEIGHTS_DIR

SHIPPED = ["image.safetensors", "audio.safetensors", "audio-logmel.safetensors"]


def _random_head(path: Path, vec_dim: int, grid_dim: int, features: dict, seed: int = 0) -> Path:
    import torch

    torch.manual_seed(seed)
    save_head(TranslatorHead(HeadConfig(vec_dim=vec_dim, grid_dim=grid_dim, features=features)), path)
    return path


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_heads_load_fast_and_are_small(name: str) -> None:
    path = WEIGHTS_DIR / name
    t = time.perf_counter()
    head, sha = load_head(path)
    assert time.perf_counter() - t < 1.0
    assert path.stat().st_size < 8_000_000
    assert sha == file_sha256(path) and head.cfg.training.get("best_epoch", 0) >= 1
    assert path.with_suffix(".json").exists()


def test_config_names_the_head_and_refuses_swaps(tmp_path: Path) -> None:
    a = _random_head(tmp_path / "a.safetensors", 1152, 0, {"extractor": "whisper"}, seed=0)
    b = _random_head(tmp_path / "b.safetensors", 1152, 0, {"extractor": "whisper"}, seed=1)
    ea, eb = get_encoder("whisper-translator", head_path=a), get_encoder("whisper-translator", head_path=b)
    assert ea.config()["head_sha256"] == file_sha256(a)[:16]
    assert ea.fingerprint() != eb.fingerprint()
    assert get_encoder("whisper-translator").config()["head_sha256"] == file_sha256(WEIGHTS_DIR / "audio.safetensors")[:16]


def test_wrong_kind_of_head_is_refused(tmp_path: Path) -> None:
    p = _random_head(tmp_path / "w.safetensors", 1152, 0, {"extractor": "whisper"})
    with pytest.raises(EncoderError, match="not an image"):
        get_encoder("effnet-translator", head_path=p).embed_images([Image.new("RGB", (32, 32))])
    with pytest.raises(EncoderError, match="not found"):
        get_encoder("effnet-translator", head_path=tmp_path / "missing.safetensors").config()


@pytest.mark.integration
def test_effnet_translator_embeds_images_into_text_space() -> None:
    enc = get_encoder("effnet-translator")
    imgs = [Image.new("RGB", (224, 224), c) for c in ("red", "green")] + [Image.new("RGB", (100, 50), "red")]
    v = enc.embed_images(imgs)
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert float(v[0] @ v[2]) > float(v[0] @ v[1])  # image->image: the two red images are closest
    assert enc.embed_text(["a red wall"]).shape == (1, 384)
    cfg = enc.config()
    assert cfg["channel"] == "image" and cfg["backbones"] and cfg["pixels"] == "[-1,1]"


@pytest.mark.integration
def test_whisper_translator_embeds_clips_of_any_length() -> None:
    enc = get_encoder("whisper-translator")
    rng = np.random.default_rng(0)
    clips = [AudioClip(rng.standard_normal(8000).astype(np.float32) * 0.1, 16000),
             AudioClip(np.sin(np.linspace(0, 3000, 44100 * 3)).astype(np.float32) * 0.5, 44100)]
    v = enc.embed_audio(clips)
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    with pytest.raises(EncoderError, match="AudioClip"):
        enc.embed_audio([np.zeros(100)])


@pytest.mark.integration
@pytest.mark.slow
def test_shipped_image_head_finds_flickr_test_images(data_dir) -> None:
    from mmrag.encoders.datasets import flickr_captions, flickr_split

    names = flickr_split("test")[:20]
    caps = flickr_captions()
    enc = get_encoder("effnet-translator")
    img = enc.embed_images([Image.open(data_dir / "flickr8k" / "images" / n) for n in names])
    txt = enc.embed_text([caps[n][0] for n in names])
    ranks = (txt @ img.T > np.diag(txt @ img.T)[:, None]).sum(1)
    assert (ranks < 5).mean() >= 0.5, ranks  # chance: 0.25


@pytest.mark.integration
@pytest.mark.slow
def test_shipped_sound_head_names_esc50_test_sounds(data_dir) -> None:
    from mmrag.encoders.esc50_text import ESC50_TEXT
    from mmrag.encoders.train import esc50_split
    from mmrag.encoders.whisper_audio import load_audio

    rows, seen = [], set()
    for r in esc50_split()["test"]:
        if r["category"] not in seen:
            seen.add(r["category"])
            rows.append(r)
    rows = rows[:10]
    enc = get_encoder("whisper-translator")
    a = enc.embed_audio([load_audio(data_dir / "esc50" / "audio" / r["file"]) for r in rows])
    cats = sorted(ESC50_TEXT)
    t = enc.embed_text([ESC50_TEXT[c][0] for c in cats])
    top5 = np.argsort(-(a @ t.T), axis=1)[:, :5]
    hits = [cats.index(r["category"]) in top5[i] for i, r in enumerate(rows)]
    assert np.mean(hits) >= 0.5, hits  # chance: 0.1
