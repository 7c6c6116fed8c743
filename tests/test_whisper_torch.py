"""Whisper tiny.en encoder in torch (all layers) against CTranslate2's own encoder."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from mmrag.encoders.base import EncoderError
from mmrag.encoders.whisper_torch import WhisperTorchEncoder, dequantize, read_ct2_model


def _text(s: str) -> bytes:
    return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"


def test_read_ct2_model_parses_variables_and_aliases(tmp_path) -> None:
    w = np.arange(6, dtype=np.float16).reshape(2, 3)
    blob = struct.pack("<I", 6) + _text("WhisperSpec") + struct.pack("<II", 3, 2)
    blob += _text("a/weight") + struct.pack("<BII", 2, 2, 3) + struct.pack("<BI", 4, w.nbytes) + w.tobytes()
    blob += _text("a/num_heads") + struct.pack("<B", 0) + struct.pack("<BI", 2, 2) + struct.pack("<h", 6)
    blob += struct.pack("<I", 1) + _text("b/weight") + _text("a/weight")
    (tmp_path / "model.bin").write_bytes(blob)
    out = read_ct2_model(tmp_path / "model.bin")
    assert np.array_equal(out["a/weight"], w) and out["a/weight"].dtype == np.float16
    assert int(out["a/num_heads"]) == 6 and out["b/weight"] is out["a/weight"]
    q = {"w": np.array([[127, -64], [10, 0]], np.int8), "w_scale": np.array([127.0, 10.0], np.float32)}
    q["n"] = out["a/num_heads"]
    assert set(deq := dequantize(q)) == {"w"} and np.allclose(deq["w"], [[1.0, -64 / 127], [1.0, 0.0]])


@pytest.mark.integration
def test_torch_encoder_matches_ctranslate2_on_a_tone() -> None:
    import ctranslate2
    from faster_whisper.feature_extractor import FeatureExtractor

    from mmrag.encoders.whisper_audio import packaged_whisper_path

    sr = 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)).astype(np.float32)
    mel = FeatureExtractor(feature_size=80)(tone, padding=0)
    mel = mel[:, : mel.shape[1] - mel.shape[1] % 2].astype(np.float32)  # even length (conv stride 2)
    ct2 = ctranslate2.models.Whisper(packaged_whisper_path(), device="cpu", intra_threads=1)
    ref = np.asarray(ct2.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True))[0]

    enc = WhisperTorchEncoder(threads=1)
    states = enc.layers(mel)
    assert enc.n_layers == 4 and enc.n_heads == 6
    assert states.shape == (5, mel.shape[1] // 2, 384) and ref.shape == states.shape[1:]
    got = states[-1]
    cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.mean() > 0.99, cos.mean()
    assert not np.allclose(states[0], states[-2])  # the layers are distinct
    with pytest.raises(EncoderError):
        enc.layers(mel[:, :-1])  # odd length
