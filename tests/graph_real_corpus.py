"""A small real corpus from ../shared/data (copied into a temp folder, never into the repo) plus a
synthetic label photo and manual, ingested with the real default encoders through `mmrag.api`.

Three places (entities, via mmrag.json manifests), each with a Flickr8k photo, an ESC-50 sound and a
short review; a rendered label photo whose OCR text names part QX-5521, and a manual about it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMRAG_DATA", REPO.parent / "shared" / "data"))

PLACES = {
    "park-kiosk": ("1119015538_e8e796281e.jpg", "4-182395-A-0.flac",
                   "Park Kiosk sells ice cream and coffee next to the meadow. Dogs are welcome."),
    "beach-shack": ("1322323208_c7ecb742c6.jpg", "4-167063-A-11.flac",
                    "Beach Shack serves grilled fish and cold lemonade right on the sand."),
    "fireside-inn": ("1332722096_1e3de8ae70.jpg", "4-164661-A-12.flac",
                     "Fireside Inn is a cosy pub with a wood stove and hearty soups in winter."),
}
PART = "QX-5521"
MANUAL = (f"Seal {PART} fits the H200 hydraulic pump. It must be replaced every 500 operating hours; "
          "check it for cracks at every service.")


def available() -> bool:
    return (DATA / "flickr8k" / "images").is_dir() and (DATA / "esc50").is_dir()


def render_label(path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", 72)
    except OSError:
        font = ImageFont.load_default(size=72)
    draw.text((40, 40), "SPARE PART", fill="black", font=font)
    draw.text((40, 160), PART, fill="black", font=font)
    img.save(path)


def build_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for entity, (image, sound, review) in PLACES.items():
        d = root / entity
        d.mkdir(exist_ok=True)
        shutil.copy(DATA / "flickr8k" / "images" / image, d / "photo.jpg")
        esc = DATA / "esc50" / "audio" / sound
        if not esc.exists():
            esc = next(DATA.joinpath("esc50").rglob(sound))
        shutil.copy(esc, d / "sound.flac")
        (d / "review.txt").write_text(review + "\n")
        (d / "mmrag.json").write_text(json.dumps({"entity": entity}))
    parts = root / "parts"
    parts.mkdir(exist_ok=True)
    render_label(parts / "label.png")
    (parts / "manual.txt").write_text(MANUAL + "\n")
    return root


def trained_head(channel: str) -> bool:
    """Whether engineer B's trained head for `channel` ("image"/"audio") ships."""
    return (REPO / "encoders" / "weights" / f"{channel}.safetensors").exists()


def encoders() -> dict[str, str]:
    """Per channel: the real default encoder where its trained head ships; otherwise a hashed
    stand-in (text and OCR always use the real MiniLM; loudness is always measured for real)."""
    return {
        "text": "minilm",
        "image": "effnet-translator" if trained_head("image") else "hash-image",
        "audio": "whisper-translator" if trained_head("audio") else "hash-audio",
    }


def build_store(corpus: Path, store: Path) -> dict:
    from mmrag.api import ingest

    report = ingest(corpus, store, encoders=encoders(), transcripts=False)
    return report.model_dump()
