#!/usr/bin/env python
"""Regenerate the bundled "city guide" example knowledge base in examples/city_guide/.

Every file is made here, reproducibly (fixed seeds), from sources whose licence allows shipping:
  * photos: scikit-image's bundled sample photos (public domain / CC0, see SOURCES.md) and rooms
    drawn procedurally with numpy/PIL;
  * the photographed menu: text rendered with Pillow's bundled font, rotated and noised;
  * ambient sound: generated with numpy (quiet room tone, loud chatter made of espeak-ng voices
    plus synthetic clatter), saved as FLAC;
  * the spoken review: synthesised with espeak-ng;
  * the video: frames of a photo and an audio track, encoded with PyAV.

Usage (scikit-image is only needed here, not by mmrag):
    pip install --no-deps --target /tmp/skimage scikit-image   # or SKIMAGE_DATA_DIR=.../skimage/data
    PYTHONPATH=/tmp/skimage .venv/bin/python scripts/make_city_guide.py [--out examples/city_guide]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SR = 16000
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from city_guide_text import CHATTER_LINES, PLACES, SPOKEN_REVIEW  # noqa: E402


# ----------------------------------------------------------------------------------- helpers
def skimage_data_dir() -> Path:
    env = os.environ.get("SKIMAGE_DATA_DIR")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("skimage")  # locate without importing (no compiled deps needed)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-image not found: pip install --no-deps --target DIR scikit-image, PYTHONPATH=DIR")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def save_jpeg(img: Image.Image, path: Path, size: tuple[int, int] = (320, 240)) -> None:
    img = img.convert("RGB")
    img = img.resize(size, Image.Resampling.LANCZOS) if img.size != size else img
    img.save(path, "JPEG", quality=82, optimize=True)


def rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    y = x * (10 ** ((dbfs - rms_dbfs(x)) / 20))
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def save_flac(x: np.ndarray, path: Path) -> None:
    import soundfile as sf

    sf.write(str(path), x, SR, format="FLAC", subtype="PCM_16")


def espeak(text: str, voice: str = "en-us", speed: int = 150, pitch: int = 50) -> np.ndarray:
    """Speech from espeak-ng, resampled to SR mono float32."""
    import soundfile as sf

    exe = shutil.which("espeak-ng")
    if not exe:
        raise SystemExit("espeak-ng is missing: apt-get install -y espeak-ng (scripts/install.sh does it)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text], check=True)
        x, sr = sf.read(str(wav), dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    n = int(round(len(x) * SR / sr))
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """1/f^exponent noise (exponent 1: pink, 2: brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    spec /= f ** (exponent / 2)
    return np.fft.irfft(spec, n).astype(np.float32)


# ------------------------------------------------------------------------------------ images
def room(bright: bool, seed: int) -> Image.Image:
    """A simple dining room: daylight through big windows, or a dark windowless room with lamps."""
    rng = np.random.default_rng(seed)
    w, h = 320, 240
    img = Image.new("RGB", (w, h), (236, 228, 210) if bright else (38, 30, 28))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 170, w, h], fill=(196, 160, 120) if bright else (52, 36, 30))  # floor
    if bright:
        for x0 in (30, 130, 230):  # windows with sky
            d.rectangle([x0, 25, x0 + 70, 140], fill=(150, 200, 245), outline=(250, 250, 250), width=5)
            d.line([x0 + 35, 25, x0 + 35, 140], fill=(250, 250, 250), width=3)
            d.polygon([(x0, 170), (x0 + 70, 170), (x0 + 110, 240), (x0 + 20, 240)], fill=(240, 214, 170))  # sunlight
        d.ellipse([262, 4, 300, 42], fill=(255, 244, 160))
    else:
        for x0 in (60, 160, 260):  # hanging lamps
            d.line([x0, 0, x0, 60], fill=(20, 20, 20), width=2)
            d.ellipse([x0 - 14, 60, x0 + 14, 80], fill=(255, 190, 90))
    for x0 in (40, 140, 240):  # tables and plants
        d.rectangle([x0, 150, x0 + 50, 160], fill=(120, 80, 50) if bright else (70, 45, 30))
        d.rectangle([x0 + 22, 160, x0 + 28, 195], fill=(90, 60, 40) if bright else (50, 35, 25))
        if bright:
            d.ellipse([x0 + 38, 120, x0 + 60, 150], fill=(70, 150, 70))
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 4 if bright else 3, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))


def menu(lines: list[str], seed: int) -> Image.Image:
    """A photographed paper menu: black text on off-white, slightly rotated, shaded and noisy."""
    rng = np.random.default_rng(seed)
    w, h = 520, 60 + 44 * len(lines)
    page = Image.new("RGB", (w, h), (246, 241, 228))
    d = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        font = ImageFont.load_default(size=34 if i == 0 else 24)
        d.text((30, 24 + 44 * i), line, fill=(25, 22, 20), font=font)
    table = Image.new("RGB", (w + 80, h + 80), (120, 86, 60))
    table.paste(page, (40, 40))
    table = table.rotate(2.5, resample=Image.Resampling.BICUBIC, fillcolor=(120, 86, 60))
    arr = np.asarray(table, dtype=np.float32)
    shade = np.linspace(1.0, 0.85, arr.shape[1])[None, :, None]
    arr = arr * shade + rng.normal(0, 6, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


# ------------------------------------------------------------------------------------- sound
def room_tone(seed: int, seconds: float = 4.0, dbfs: float = -50.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(n) / SR)  # fridge / ventilation hum
    x = coloured_noise(rng, n, 2.0)
    return at_level(x / np.abs(x).max() + hum, dbfs)


def chatter(seed: int, seconds: float = 4.0, dbfs: float = -15.0) -> np.ndarray:
    """A busy room: several overlapping espeak-ng voices, cutlery clatter and pink noise."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    mix = 0.2 * coloured_noise(rng, n, 1.0)
    mix /= np.abs(mix).max() * 5
    voices = [("en-us", 60), ("en-gb", 35), ("en-us+f3", 70), ("en-gb-scotland", 45), ("en-us+m3", 40)]
    for (voice, pitch), line in zip(voices, CHATTER_LINES):
        s = espeak(line, voice=voice, speed=175, pitch=pitch)
        off = int(rng.integers(0, SR))
        s = s[: n - off]
        mix[off : off + len(s)] += 0.5 * s / (np.abs(s).max() + 1e-9)
    for t in rng.uniform(0, seconds - 0.1, 14):  # clatter: short decaying metallic clicks
        i = int(t * SR)
        k = np.arange(int(0.06 * SR))
        f = rng.uniform(2500, 6000)
        mix[i : i + len(k)] += 0.9 * np.exp(-k / (0.008 * SR)) * np.sin(2 * np.pi * f * k / SR)
    return at_level(mix, dbfs)


def purr(seed: int, seconds: float = 3.0, dbfs: float = -32.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    t = np.arange(n) / SR
    x = coloured_noise(rng, n, 2.0) * (0.6 + 0.4 * np.sin(2 * np.pi * 25 * t)) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.8 * t))
    return at_level(x, dbfs)


def birdsong(seed: int, seconds: float = 4.0, dbfs: float = -30.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    x = 0.05 * coloured_noise(rng, n, 1.0) / 50
    for t in rng.uniform(0, seconds - 0.3, 9):
        i, m = int(t * SR), int(0.18 * SR)
        k = np.arange(m) / SR
        f = rng.uniform(2800, 4200) + 1500 * np.sin(2 * np.pi * 12 * k)
        x[i : i + m] += np.sin(2 * np.pi * np.cumsum(f) / SR) * np.hanning(m)
    return at_level(x, dbfs)


# ------------------------------------------------------------------------------------- video
def video(photo: Image.Image, audio: np.ndarray, path: Path, seconds: float = 3.0, fps: int = 10) -> None:
    """A slow zoom over `photo` (160x112, H.264) with `audio` as an AAC track, via PyAV."""
    import av

    w, h = 160, 112
    src = photo.convert("RGB")
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps, options={"crf": "30", "preset": "veryslow", "threads": "1"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = out.add_stream("aac", rate=SR, layout="mono")
        for i in range(int(seconds * fps)):
            z = 1.0 - 0.15 * i / (seconds * fps)
            cw, ch = src.width * z, src.height * z
            box = ((src.width - cw) / 2, (src.height - ch) / 2, (src.width + cw) / 2, (src.height + ch) / 2)
            frame = av.VideoFrame.from_image(src.resize((w, h), Image.Resampling.BILINEAR, box=box))
            out.mux(vs.encode(frame))
        out.mux(vs.encode())
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)[None, :]
        af = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        af.sample_rate = SR
        out.mux(aus.encode(af))
        out.mux(aus.encode())


# ---------------------------------------------------------------------------------- assemble
def build(out: Path) -> list[Path]:
    data = skimage_data_dir()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(rel: str, writer) -> None:  # noqa: ANN001
        path = out / "places" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(path)
        written.append(path)

    for slug, place in PLACES.items():
        put(f"{slug}/review.md", lambda p, t=place["review"]: p.write_text(t.strip() + "\n"))
    put("sunny_side/dining_room.jpg", lambda p: save_jpeg(room(True, 1), p))
    put("sunny_side/flat_white.jpg", lambda p: save_jpeg(Image.open(data / "coffee.png"), p))
    put("sunny_side/menu.jpg", lambda p: menu(PLACES["sunny_side"]["menu"], 2).save(p, quality=75))
    put("sunny_side/room_tone.flac", lambda p: save_flac(room_tone(3), p))
    put("sunny_side/spoken_review.flac", lambda p: save_flac(at_level(espeak(SPOKEN_REVIEW, speed=130), -20), p))
    put("night_owl/dining_room.jpg", lambda p: save_jpeg(room(False, 4), p))
    put("night_owl/menu.jpg", lambda p: menu(PLACES["night_owl"]["menu"], 5).save(p, quality=75))
    put("night_owl/saturday_brunch.flac", lambda p: save_flac(chatter(6), p))
    put("harbour_grill/wall.jpg", lambda p: save_jpeg(Image.open(data / "brick.png"), p))
    put("harbour_grill/dinner_rush.flac", lambda p: save_flac(chatter(7, dbfs=-18.0), p))
    put("cat_corner/chelsea.jpg", lambda p: save_jpeg(Image.open(data / "chelsea.png"), p))
    put("cat_corner/chelsea.mp4", lambda p: video(Image.open(data / "chelsea.png"), purr(8), p))
    put("garden_terrace/lawn.jpg", lambda p: save_jpeg(Image.open(data / "grass.png"), p))
    put("garden_terrace/birds.flac", lambda p: save_flac(birdsong(9), p))
    # one folder per place; mmrag's ingestion reads entities from manifest.json (globs -> entity)
    manifest = {"entities": {f"{slug}/*": place["name"] for slug, place in PLACES.items()}}
    put("manifest.json", lambda p: p.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n"))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "examples" / "city_guide")
    args = ap.parse_args(argv)
    files = build(args.out)
    total = sum(p.stat().st_size for p in files)
    for p in files:
        print(f"{p.stat().st_size:>9,d}  {p.relative_to(args.out / 'places')}")
    print(f"{total:>9,d}  total ({len(files)} files) in {args.out / 'places'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
