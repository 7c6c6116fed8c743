"""clap encoder: a tiny randomly initialised ClapModel saved with save_pretrained, loaded by local path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmrag.encoders import AudioClip, EncoderError, get_encoder


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import (ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor,
                              ClapTextConfig, RobertaTokenizer)

    d = tmp_path_factory.mktemp("clap")
    chars = list("abcdefghijklmnopqrstuvwxyz") + ["Ġ" + c for c in "abcdefghijklmnopqrstuvwxyz"]
    vocab = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>", "Ġ"] + chars)}
    (d / "vocab.json").write_text(json.dumps(vocab))
    (d / "merges.txt").write_text("#version: 0.2\n")
    tok = RobertaTokenizer(str(d / "vocab.json"), str(d / "merges.txt"))
    fe = ClapFeatureExtractor(feature_size=64, sampling_rate=48000, max_length_s=2, hop_length=480, fft_window_size=1024)
    text_cfg = ClapTextConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=80, projection_dim=16)
    audio_cfg = ClapAudioConfig(spec_size=256, num_mel_bins=64, window_size=4, patch_stride=(4, 4), patch_embeds_hidden_size=16,
                                hidden_size=32, depths=[1, 1], num_attention_heads=[2, 2], projection_dim=16,
                                enable_fusion=False)
    cfg = ClapConfig(text_config=text_cfg.to_dict(), audio_config=audio_cfg.to_dict(), projection_dim=16)
    torch.manual_seed(0)
    ClapModel(cfg).save_pretrained(d)
    ClapProcessor(feature_extractor=fe, tokenizer=tok).save_pretrained(d)
    return d


@pytest.mark.integration
def test_clap_local_directory_embeds_text_and_audio(tiny_clap: Path) -> None:
    enc = get_encoder("clap", model=str(tiny_clap))
    assert enc.channel == "audio" and enc.dim == 16
    rng = np.random.default_rng(0)
    clips = [AudioClip(rng.standard_normal(16000).astype(np.float32) * 0.1, 16000),
             AudioClip(np.sin(np.linspace(0, 2000, 44100)).astype(np.float32), 44100)]
    a = enc.embed_audio(clips)
    t = enc.embed_text(["a dog barking", "rain"])
    assert a.shape == (2, 16) and t.shape == (2, 16)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert not np.allclose(a[0], a[1]) and not np.allclose(t[0], t[1])
    assert enc.config()["model"] == f"dir:{tiny_clap.name}"


@pytest.mark.integration
def test_clap_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    enc = get_encoder("clap", model=str(tmp_path / "nowhere"))
    with pytest.raises(EncoderError, match="cannot load CLAP"):
        enc.embed_text(["x"])


def test_clap_rejects_non_clip_input(tiny_clap: Path) -> None:
    enc = get_encoder("clap", model=str(tiny_clap))
    with pytest.raises(EncoderError, match="expected AudioClip"):
        enc.embed_audio([np.zeros(10)])
