"""Small generated media for ingestion tests: good files of every kind and broken ones."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SR = 16000
HASH_ENCODERS = {"text": "hash-text", "image": "hash-image", "audio": "hash-audio"}
HASH_ENCODERS_CLI = "text=hash-text,image=hash-image,audio=hash-audio"


def text_image(path: Path, text: str = "HOT PIZZA MENU", size: tuple[int, int] = (480, 160)) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", 44)
    except OSError:
        font = ImageFont.load_default(size=44)
    draw.text((20, size[1] // 2 - 25), text, fill="black", font=font)
    img.save(path)
    return path


def colour_image(path: Path, colour: tuple[int, int, int], size: int = 64, seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour)[None, None, :] + rng.normal(0, 10, (size, size, 3)), 0, 255).astype("uint8")
    Image.fromarray(arr).save(path)
    return path


def sine_wav(path: Path, seconds: float = 3.0, freq: float = 440.0, amp: float = 0.3) -> Path:
    import soundfile as sf

    t = np.arange(int(SR * seconds)) / SR
    sf.write(path, (amp * np.sin(2 * np.pi * freq * t)).astype("float32"), SR)
    return path


def noise_flac(path: Path, seconds: float = 3.0, amp: float = 0.1, seed: int = 0) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sf.write(path, (amp * rng.standard_normal(int(SR * seconds))).astype("float32"), SR, format="FLAC")
    return path


def tiny_mp4(path: Path, seconds: float = 4.0, fps: int = 10, with_audio: bool = True) -> Path:
    """Half red then half blue frames (a scene change), with a sine sound track."""
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        aus = out.add_stream("aac", rate=SR) if with_audio else None
        if aus is not None:
            aus.layout = "mono"
        n = int(seconds * fps)
        for i in range(n):
            arr = np.zeros((48, 64, 3), np.uint8)
            arr[..., 0 if i < n // 2 else 2] = 220
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            for pkt in vs.encode(frame):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if aus is not None:
            t = np.arange(int(SR * seconds)) / SR
            x = (0.2 * np.sin(2 * np.pi * 330 * t)).astype("float32")
            step = 1024
            for k in range(0, len(x), step):
                fr = av.AudioFrame.from_ndarray(x[None, k : k + step], format="flt", layout="mono")
                fr.sample_rate = SR
                fr.pts = k
                for pkt in aus.encode(fr):
                    out.mux(pkt)
            for pkt in aus.encode():
                out.mux(pkt)
    return path


def text_pdf(path: Path, text: str | None) -> Path:
    """A one-page PDF showing `text` (None: a page with no text at all)."""
    content = f"BT /F1 18 Tf 40 700 Td ({text}) Tj ET".encode() if text else b""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def huge_png_header(path: Path, w: int = 100_000, h: int = 100_000) -> Path:
    """A PNG whose header claims w x h pixels (no real pixel data)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10))
                     + chunk(b"IEND", b""))
    return path


def truncate(src: Path, dst: Path, keep: float = 0.4) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def mixed_folder(root: Path, n_texts: int = 3, n_images: int = 2) -> Path:
    """A folder of good files of every kind (no broken ones)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    for i in range(n_texts):
        (root / "docs" / f"note{i}.txt").write_text(f"Note {i}: the espresso machine number {i} needs descaling. " * 30)
    (root / "docs" / "page.html").write_text(
        "<html><head><title>Cafe Rosa</title><style>p{color:red}</style></head>"
        "<body><p>Cafe Rosa serves coffee &amp; cake.</p><script>var x=1;</script></body></html>"
    )
    (root / "docs" / "readme.md").write_text("# Garden\n\nThe tomato plants need water on Mondays.\n")
    (root / "photos").mkdir(exist_ok=True)
    for i in range(n_images):
        colour_image(root / "photos" / f"img{i}.png", ((i * 80) % 255, 120, 200 - i * 30), seed=i)
    sine_wav(root / "tone.wav", seconds=16.0)
    noise_flac(root / "hiss.flac", seconds=3.0)
    tiny_mp4(root / "clip.mp4")
    return root
