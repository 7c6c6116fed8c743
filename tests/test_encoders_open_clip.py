"""open-clip encoder: loaded from a tiny, randomly initialised local checkpoint (no CLIP weights here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmrag.encoders import EncoderError, get_encoder

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "patch_size": 32, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import open_clip
    import torch

    d = tmp_path_factory.mktemp("clip")
    (d / "tiny-clip-test.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(d / "tiny-clip-test.json")
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip-test", pretrained=None)
    path = d / "tiny.bin"
    torch.save(model.state_dict(), path)
    return path


@pytest.mark.integration
def test_open_clip_loads_local_checkpoint_and_embeds(tiny_checkpoint: Path) -> None:
    enc = get_encoder("open-clip", model="tiny-clip-test", pretrained=str(tiny_checkpoint))
    assert enc.channel == "image" and enc.dim == 32
    imgs = [Image.new("RGB", (80, 60), c) for c in ("red", "blue", "white")]
    v = enc.embed_images(imgs)
    t = enc.embed_text(["a red square", "a blue square"])
    assert v.shape == (3, 32) and t.shape == (2, 32)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert not np.allclose(v[0], v[1])  # different pixels, different vectors
    # the same checkpoint reloaded gives the same vectors (the weights really came from the file)
    again = get_encoder("open-clip", model="tiny-clip-test", pretrained=str(tiny_checkpoint))
    assert np.allclose(again.embed_images(imgs[:1]), v[:1], atol=1e-5)
    cfg = enc.config()
    assert cfg["model"] == "tiny-clip-test" and cfg["pretrained"].startswith("file:tiny.bin")
    assert enc.embed_images([]).shape == (0, 32)


@pytest.mark.integration
def test_open_clip_bad_checkpoint_is_a_clear_error(tmp_path: Path, tiny_checkpoint: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a checkpoint")
    enc = get_encoder("open-clip", model="tiny-clip-test", pretrained=str(bad))
    with pytest.raises(EncoderError, match="cannot load open_clip"):
        enc.embed_text(["x"])


def test_open_clip_unknown_model() -> None:
    with pytest.raises(EncoderError, match="unknown open_clip model"):
        get_encoder("open-clip", model="no-such-model")


def test_open_clip_default_is_vit_b_32_laion() -> None:
    cfg = get_encoder("open-clip").config()  # built, not loaded: no download
    assert cfg["model"] == "ViT-B-32" and cfg["pretrained"] == "laion2b_s34b_b79k" and cfg["dim"] == 512
