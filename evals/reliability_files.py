"""A corpus of broken files across modalities, mixed with valid ones, written at run time.

`make_corpus(root)` writes >= 50 broken files (truncated JPEG/FLAC/MP4, zero-byte files, wrong
extensions, a PNG header claiming 50,000 x 50,000 pixels, a 10-hour silent WAV stored as a sparse
file, corrupt MP4, non-UTF-8 text, a PDF with no text, ...) and a dozen valid files of every
modality, and returns what each file is expected to do:

- `valid`: a good file; ingestion must ingest it (a file record in the store).
- `bad`: a broken or suspicious file; ingestion must report it with a reason and must not crash.

Nothing large is written: media are synthesised tiny, and the 10-hour WAV is a sparse file
(a header plus a hole), so the corpus takes well under 2 MB of real disk.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel

Expect = Literal["valid", "bad"]


class CorpusFile(BaseModel):
    source: str  # path relative to the corpus root, forward slashes
    expect: Expect
    what: str  # why the file is there


# -- valid media, synthesised ------------------------------------------------------------------
def jpeg_bytes(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 80, 40), fmt: str = "JPEG") -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, colour)
    ImageDraw.Draw(img).rectangle([4, 4, size[0] // 2, size[1] // 2], fill=(20, 160, 220))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def audio_bytes(seconds: float = 1.5, rate: int = 16000, fmt: str = "FLAC", freq: float = 440.0) -> bytes:
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def mp4_bytes(seconds: float = 1.0, fps: int = 8, size: tuple[int, int] = (64, 48), with_audio: bool = True) -> bytes:
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        vs = out.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        ast = out.add_stream("aac", rate=16000) if with_audio else None
        for i in range(int(seconds * fps)):
            arr = np.full((size[1], size[0], 3), (i * 30) % 255, dtype=np.uint8)
            for pkt in vs.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if ast is not None:
            n = int(seconds * 16000)
            t = np.arange(n, dtype=np.float32) / 16000
            samples = (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
            step = 1024
            for j in range(0, n - step + 1, step):
                frame = av.AudioFrame.from_ndarray(samples[None, j : j + step], format="fltp", layout="mono")
                frame.sample_rate = 16000
                frame.pts = j
                for pkt in ast.encode(frame):
                    out.mux(pkt)
            for pkt in ast.encode():
                out.mux(pkt)
    return buf.getvalue()


def pdf_bytes(text: str | None) -> bytes:
    """A one-page PDF showing `text` in Helvetica, or a blank page when `text` is None."""
    content = b"" if text is None else f"BT /F1 14 Tf 40 700 Td ({text}) Tj ET".encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


# -- broken media ----------------------------------------------------------------------------------
def png_header(width: int, height: int, idat: bytes | None = None) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat if idat is not None else zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 frame header is rewritten to claim width x height."""
    data = bytearray(jpeg_bytes((16, 16)))
    i = data.find(b"\xff\xc0")
    if i < 0:
        raise RuntimeError("no SOF0 marker in the synthesised JPEG")
    struct.pack_into(">HH", data, i + 5, height, width)
    return bytes(data)


def wav_header(seconds: float, rate: int = 16000, channels: int = 1, bits: int = 16, fmt_tag: int = 1) -> bytes:
    block = channels * bits // 8
    data_len = int(seconds * rate) * block
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    return b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_len)


def write_sparse_wav(path: Path, hours: float = 10.0, rate: int = 8000) -> None:
    """A silent WAV of `hours` hours whose data is a hole: large apparent size, ~4 KB on disk."""
    header = wav_header(hours * 3600, rate=rate)
    data_len = struct.unpack("<I", header[40:44])[0]
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + data_len)


def _det_noise(n: int, seed: int = 7) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def make_corpus(root: Path) -> list[CorpusFile]:
    """Write the corpus under `root` (created); return what each file is expected to do."""
    root.mkdir(parents=True, exist_ok=True)
    files: list[CorpusFile] = []
    jpg, png = jpeg_bytes(), jpeg_bytes(fmt="PNG")
    flac, wav = audio_bytes(), audio_bytes(fmt="WAV", freq=880.0)
    mp4 = mp4_bytes()
    pdf = pdf_bytes("The harbour ferry leaves at seven every morning.")

    def put(source: str, expect: Expect, what: str, data: bytes | Callable[[Path], None]) -> None:
        p = root / source
        p.parent.mkdir(parents=True, exist_ok=True)
        if callable(data):
            data(p)
        else:
            p.write_bytes(data)
        files.append(CorpusFile(source=source, expect=expect, what=what))

    # valid files of every modality
    put("good/notes.txt", "valid", "plain UTF-8 text", "The old lighthouse opens to visitors on Sundays.\n".encode())
    put("good/guide.md", "valid", "markdown", "# Guide\n\nThe bakery on Quay Street sells rye bread.\n".encode())
    put("good/page.html", "valid", "html", b"<html><body><p>The museum has a whale skeleton.</p></body></html>")
    put("good/ferry.pdf", "valid", "PDF with a text layer", pdf)
    put("good/unicode.txt", "valid", "UTF-8 in other scripts", "Caf\u00e9 \u6771\u4eac \u041c\u043e\u0441\u043a\u0432\u0430 \u0645\u0631\u062d\u0628\u0627 \U0001f600\n".encode())
    put("good/photo.jpg", "valid", "JPEG", jpg)
    put("good/photo.png", "valid", "PNG", png)
    put("good/photo2.jpg", "valid", "JPEG (other colours)", jpeg_bytes((80, 60), (30, 200, 90)))
    put("good/tone.flac", "valid", "FLAC", flac)
    put("good/tone.wav", "valid", "WAV", wav)
    put("good/clip.mp4", "valid", "MP4 with sound", mp4)
    put("good/silent_clip.mp4", "valid", "MP4 without sound", mp4_bytes(with_audio=False))

    # zero-byte and empty files, every extension
    for ext in ("txt", "md", "html", "pdf", "jpg", "png", "gif", "webp", "wav", "flac", "mp3", "ogg", "mp4", "webm"):
        put(f"bad/empty/zero.{ext}", "bad", f"zero-byte .{ext}", b"")
    put("bad/text/blank.txt", "bad", "whitespace only", b"  \n\t\n   \n")
    put("bad/text/script_only.html", "bad", "html without visible text", b"<html><script>var x = 1;</script></html>")
    # truncated media
    for frac in (0.02, 0.3, 0.7):
        put(f"bad/trunc/photo_{int(frac * 100)}.jpg", "bad", f"JPEG truncated to {frac:.0%}", jpg[: max(4, int(len(jpg) * frac))])
        put(f"bad/trunc/tone_{int(frac * 100)}.flac", "bad", f"FLAC truncated to {frac:.0%}", flac[: max(5, int(len(flac) * frac))])
        put(f"bad/trunc/clip_{int(frac * 100)}.mp4", "bad", f"MP4 truncated to {frac:.0%}", mp4[: max(12, int(len(mp4) * frac))])
    put("bad/trunc/photo_half.png", "bad", "PNG truncated to half", png[: len(png) // 2])
    put("bad/trunc/tone_header.wav", "bad", "WAV header promising 5 s, no samples", wav_header(5.0))
    put("bad/trunc/ferry_half.pdf", "bad", "PDF truncated to half", pdf[: len(pdf) // 2])
    # bombs and absurd headers
    put("bad/bomb/huge.png", "bad", "PNG header claiming 50,000 x 50,000 pixels", png_header(50_000, 50_000))
    put("bad/bomb/huge.jpg", "bad", "JPEG header claiming 60,000 x 60,000 pixels", jpeg_with_size(60_000, 60_000))
    put("bad/bomb/wide.png", "bad", "PNG header claiming 1,000,000 x 1 pixels", png_header(1_000_000, 1))
    put("bad/bomb/ten_hours.wav", "bad", "10-hour silent WAV (sparse file)", write_sparse_wav)
    put("bad/bomb/zero_rate.wav", "bad", "WAV with sample rate 0", wav_header(1.0, rate=0) + b"\x00" * 64)
    put("bad/bomb/zero_channels.wav", "bad", "WAV with 0 channels", wav_header(1.0, channels=0) + b"\x00" * 64)
    put("bad/bomb/zero_dims.png", "bad", "PNG header claiming 0 x 0 pixels", png_header(0, 0))
    # corrupt containers
    put("bad/corrupt/garbage.mp4", "bad", "ftyp box then random bytes", mp4[:32] + _det_noise(4000, 1))
    put("bad/corrupt/moov_only.mp4", "bad", "an mp4 box header with nothing inside", b"\x00\x00\x00\x08moov")
    put("bad/corrupt/noise.mkv", "bad", "matroska magic then noise", b"\x1a\x45\xdf\xa3" + _det_noise(2000, 2))
    put("bad/corrupt/noise.jpg", "bad", "JPEG magic then noise", b"\xff\xd8\xff\xe0" + _det_noise(3000, 3))
    put("bad/corrupt/noise.flac", "bad", "FLAC magic then noise", b"fLaC" + _det_noise(3000, 4))
    put("bad/corrupt/noise.mp3", "bad", "ID3 tag then noise", b"ID3\x03\x00\x00\x00\x00\x00\x00" + _det_noise(3000, 5))
    put("bad/corrupt/noise.ogg", "bad", "Ogg magic then noise", b"OggS" + _det_noise(3000, 6))
    put("bad/corrupt/bad_idat.png", "bad", "PNG with a corrupt IDAT stream", png_header(32, 32, idat=_det_noise(200, 8)))
    put("bad/corrupt/header_only.pdf", "bad", "just '%PDF-1.7'", b"%PDF-1.7\n")
    put("bad/corrupt/noise.pdf", "bad", "PDF magic then noise", b"%PDF-1.4\n" + _det_noise(2000, 9))
    put("bad/corrupt/noise.gif", "bad", "GIF magic then noise", b"GIF89a" + _det_noise(500, 10))
    put("bad/corrupt/noise.webp", "bad", "RIFF/WEBP magic then noise", b"RIFF\x00\x10\x00\x00WEBPVP8 " + _det_noise(500, 11))
    # wrong extensions and wrong content
    put("bad/label/sound.jpg", "bad", "FLAC named .jpg", flac)
    put("bad/label/picture.flac", "bad", "JPEG named .flac", jpg)
    put("bad/label/movie.wav", "bad", "MP4 named .wav", mp4)
    put("bad/label/photo.txt", "bad", "JPEG named .txt", jpg)
    put("bad/label/notes.jpg", "bad", "text named .jpg", b"just some words, not a picture\n")
    put("bad/label/notes.mp4", "bad", "text named .mp4", b"just some words, not a film\n")
    put("bad/label/binary.txt", "bad", "binary noise named .txt", b"\x00\x01\x02" + _det_noise(1000, 12))
    put("bad/label/utf16.txt", "bad", "UTF-16 without BOM (NUL bytes)", "hello world".encode("utf-16-le"))
    # text that decodes only with a guess
    put("bad/text/latin1.txt", "bad", "non-UTF-8 text (cp1252)", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e \u00a3 4".encode("cp1252"))
    put("bad/text/mixed.md", "bad", "UTF-8 with invalid bytes inside", b"good start \xff\xfe\xfd bad middle\n")
    put("bad/text/blank.pdf", "bad", "PDF with no text (blank page)", pdf_bytes(None))
    # links leading out of the root or nowhere
    outside = root.parent / f"{root.name}-outside.txt"
    outside.write_text("a file outside the ingested folder\n")
    put("bad/links/outside.txt", "bad", "symbolic link leaving the root", lambda p: os.symlink(outside, p))
    put("bad/links/dangling.jpg", "bad", "broken symbolic link", lambda p: os.symlink(root / "nowhere.jpg", p))
    return files


def summarise(files: list[CorpusFile]) -> dict[str, int]:
    return {"valid": sum(f.expect == "valid" for f in files), "bad": sum(f.expect == "bad" for f in files)}
