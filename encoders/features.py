"""Extract and cache frozen features for training and measuring the translator heads.

Image features: one `.npy` per (backbone, kind) over the Flickr8k images in the three splits, in
sorted name order. Audio features: Whisper encoder frames / log-mel frames per clip. The cache is
keyed by the extractor so that a change of preprocessing never reuses stale features.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .datasets import cache_root, data_root, flickr_split
from .whisper_audio import FINAL_LAYER

IMAGE_FEATURES_VERSION = "v1-pm1-224"


def flickr_names() -> list[str]:
    """Test, half of dev, train, the other half of dev: measurement and early-stopping data first, so
    that a partial extraction is already useful on a busy CPU. The order never changes (cache index)."""
    dev = flickr_split("dev")
    return flickr_split("test") + dev[:500] + flickr_split("train") + dev[500:]


def _image_cache(backbone: str, view: int = 0) -> Path:
    return cache_root() / (f"flickr8k-{backbone}-{IMAGE_FEATURES_VERSION}" + (f"-aug{view}" if view else ""))


def _open(path: Path, shape: tuple[int, ...], dtype: type) -> np.memmap:
    if path.exists():
        return np.load(path, mmap_mode="r+")
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def augmented_view(path: Path, view: int, size: int = 224) -> Any:
    """A training view of one image: a random resized crop (45-100% of the area, aspect 3:4 to 4:3)
    and a random horizontal flip, seeded by the file name and view number (the same on every run)."""
    from PIL import Image

    rng = np.random.default_rng(zlib.crc32(f"{path.name}/{view}".encode()))
    im = Image.open(path).convert("RGB")
    w0, h0 = im.size
    area, aspect = rng.uniform(0.45, 1.0), np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    w = int(min(w0, round(w0 * np.sqrt(area * aspect))))
    h = int(min(h0, round(h0 * np.sqrt(area / aspect))))
    x0, y0 = int(rng.integers(0, w0 - w + 1)), int(rng.integers(0, h0 - h + 1))
    im = im.crop((x0, y0, x0 + w, y0 + h)).resize((size, size), Image.BICUBIC)
    return im.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else im


def flickr_image_features(backbone: str, batch_size: int = 32, threads: int = 2, limit: int | None = None,
                          view: int = 0) -> dict:
    """{'names', 'grid' (n, T, 1280) float16 memmap, 'stages' (n, d) float32} over the first `limit`
    (default all) images of `flickr_names()`; `view` > 0: augmented views (`augmented_view`) of the
    train split's images, for training only. Extraction resumes where a killed run stopped."""
    out_dir = _image_cache(backbone, view)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = flickr_names() if view == 0 else flickr_split("train")
    progress = out_dir / "progress.json"
    done = json.loads(progress.read_text())["done"] if progress.exists() else 0
    want = len(names) if limit is None else min(limit, len(names))
    if done < want:
        from .effnet import EffNetFeatures, preprocess

        feats = EffNetFeatures(backbone, threads=threads)
        img_dir = data_root() / "flickr8k" / "images"
        grid = stages = None
        label = f"flickr8k {backbone} features" + (f" (view {view})" if view else "")
        bar = tqdm(total=want, initial=done, desc=label, unit="img")
        for start in range(done, want, batch_size):
            batch = names[start : min(start + batch_size, want)]
            images = [img_dir / n if view == 0 else augmented_view(img_dir / n, view) for n in batch]
            f = feats.extract(preprocess(images))
            if grid is None:
                grid = _open(out_dir / "grid.npy", (len(names), *f["grid"].shape[1:]), np.float16)
                stages = _open(out_dir / "stages.npy", (len(names), f["stages"].shape[1]), np.float32)
            assert stages is not None
            grid[start : start + len(batch)] = f["grid"].astype(np.float16)
            stages[start : start + len(batch)] = f["stages"]
            grid.flush()
            stages.flush()
            done = start + len(batch)
            progress.write_text(json.dumps({"done": done, "version": IMAGE_FEATURES_VERSION}))
            bar.update(len(batch))
        bar.close()
    if done == 0:
        return {"names": [], "grid": np.zeros((0, 0, 0), np.float16), "stages": np.zeros((0, 0), np.float32)}
    return {
        "names": names[:done],
        "grid": np.load(out_dir / "grid.npy", mmap_mode="r")[:done],
        "stages": np.load(out_dir / "stages.npy", mmap_mode="r")[:done],
    }


AUDIO_FEATURES_VERSION = "v1"


def audio_sets() -> dict[str, list[Path]]:
    """The clips whose sound we embed: ESC-50 fold 4, AudioCaps test clips, and the 35 videos."""
    from .datasets import esc50_rows, video_captions

    root = data_root()
    return {
        "esc50": [root / "esc50" / "audio" / r["file"] for r in esc50_rows()],
        "audiocaps": sorted((root / "audiocaps" / "audio").glob("*.flac")),
        "videos": sorted(video_captions()),
    }


def audio_kind(features: dict) -> str:
    """The cached feature kind a sound head was trained on (from its config's `features`):
    'logmel', or 'whisper' + '-trim' (real frames only) + '-L<layers>' (other than the final layer)."""
    if features.get("extractor") == "logmel":
        return "logmel"
    kind = "whisper-trim" if features.get("window") == "trim" else "whisper"
    layers = [int(i) for i in features.get("layers", [FINAL_LAYER])]
    return kind if layers == [FINAL_LAYER] else f"{kind}-L{'+'.join(map(str, layers))}"


def parse_audio_kind(kind: str) -> dict:
    """The inverse of `audio_kind`: 'whisper-trim-L2' -> {'extractor': 'whisper', 'window': 'trim', 'layers': [2]}."""
    if kind == "logmel":
        return {"extractor": "logmel"}
    parts = kind.split("-")
    layers = [FINAL_LAYER]
    if parts[-1].startswith("L"):
        try:
            layers = [int(i) for i in parts.pop()[1:].split("+")]
        except ValueError:
            raise ValueError(f"bad audio feature kind {kind!r}") from None
    if parts not in (["whisper"], ["whisper", "trim"]) or any(not 0 <= i <= FINAL_LAYER for i in layers):
        raise ValueError(f"bad audio feature kind {kind!r}; use logmel or whisper[-trim][-L<i>+<j>]")
    return {"extractor": "whisper", "window": "trim" if "trim" in parts else "pad30", "layers": layers}


def audio_frames(kind: str, dataset: str) -> dict[str, np.ndarray]:
    """{file name: (T, d) frames} for a feature kind (see `audio_kind`); extracted once, then cached
    (float16)."""
    spec = parse_audio_kind(kind)
    path = cache_root() / f"{dataset}-{kind}-{AUDIO_FEATURES_VERSION}.npz"
    if not path.exists():
        from .whisper_audio import LogMelFrames, WhisperFrames, load_audio

        extractor = LogMelFrames() if kind == "logmel" else WhisperFrames(window=spec["window"], layers=spec["layers"])
        frames = {}
        for p in tqdm(audio_sets()[dataset], desc=f"{dataset} {kind} frames", unit="clip"):
            frames[p.name] = extractor.frames(load_audio(p)).astype(np.float16)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **frames)
        tmp.rename(path)
    with np.load(path) as z:
        return {k: z[k].astype(np.float32) for k in z.files}


if __name__ == "__main__":  # nice -n 10 python -m mmrag.encoders.features lite1 lite0 audio
    import sys

    for arg in sys.argv[1:] or ["lite1"]:
        if arg == "audio":
            for ds in ("esc50", "audiocaps", "videos"):
                for kind in ("whisper", "logmel"):
                    print(ds, kind, len(audio_frames(kind, ds)))
            continue
        f = flickr_image_features(arg)
        print(arg, f["grid"].shape, f["stages"].shape)
