"""A small synthetic multimodal store for the graph's tests, written with hash encoders.

Three cafés (entities) with a review (text), a photo (image; its embedding is the hash of a
caption, standing in for a perfect image encoder), a sound recording with loudness (audio) and a
video; plus a photo of a parts label whose OCR text names part XK-4471, and a text manual about
that part (for the follow-the-evidence hop).
"""

from __future__ import annotations

from pathlib import Path

from mmrag.encoders import get_encoder
from mmrag.schemas import Unit
from mmrag.stores import VectorStore

ENCODERS = {"text": "hash-text", "image": "hash-image", "audio": "hash-audio"}

TEXT = [
    ("cafe-verde", "reviews/verde.txt", "Cafe Verde serves a vegan brunch every weekend with oat pancakes."),
    ("cafe-roar", "reviews/roar.txt", "Cafe Roar is a sports bar with burgers and big screens."),
    ("cafe-lumen", "reviews/lumen.txt", "Cafe Lumen has espresso and croissants, vegan brunch on sundays."),
    (None, "manuals/xk4471.txt", "Part XK-4471 is a pressure valve rated for 12 bar, replace every 2 years."),
]
IMAGES = [
    ("cafe-verde", "photos/verde.jpg", "bright room natural light large windows plants"),
    ("cafe-roar", "photos/roar.jpg", "dark room neon screens crowd"),
    ("cafe-lumen", "photos/lumen.jpg", "dim room candles natural wood"),
]
OCR = [(None, "photos/label.png", "label XK-4471 made in 2021")]
AUDIO = [
    ("cafe-verde", "sounds/verde.flac", "quiet room soft murmur", -48.0),
    ("cafe-roar", "sounds/roar.flac", "loud crowd shouting music", -12.0),
    ("cafe-lumen", "sounds/lumen.flac", "quiet espresso machine hiss", -44.0),
]
VIDEO = [("cafe-roar", "videos/roar.mp4", "crowd cheering a goal on big screens", 12.0, 18.0)]


def _unit(i: int, modality: str, channel: str, kind: str, source: str, text: str | None, **kw) -> Unit:
    return Unit(
        id=f"{modality}-{channel}-{i}",
        modality=modality,
        channel=channel,
        kind=kind,
        source=source,
        source_hash=f"h{i:04d}",
        media_type="x/test",
        text=text,
        **{k: v for k, v in kw.items() if v is not None},
    )


def build_store(path: Path) -> VectorStore:
    store = VectorStore(path=path, encoders=ENCODERS)
    t = get_encoder("hash-text")
    groups = [
        [_unit(i, "text", "text", "chunk", s, x, entity=e) for i, (e, s, x) in enumerate(TEXT)],
        [_unit(i, "image", "image", "image", s, None, entity=e) for i, (e, s, _) in enumerate(IMAGES)],
        [_unit(i, "image", "text", "ocr", s, x, entity=e) for i, (e, s, x) in enumerate(OCR)],
        [_unit(i, "audio", "audio", "segment", s, None, entity=e, loudness_db=db, start=0.0, end=5.0)
         for i, (e, s, _, db) in enumerate(AUDIO)],
        [_unit(0, "video", "audio", "segment", VIDEO[0][1], None, entity=VIDEO[0][0], start=VIDEO[0][3],
               end=VIDEO[0][4], loudness_db=-10.0)],
    ]
    captions = [
        [x for _, _, x in TEXT],
        [x for _, _, x in IMAGES],
        [x for _, _, x in OCR],
        [x for _, _, x, _ in AUDIO],
        [VIDEO[0][2]],
    ]
    for units, caps in zip(groups, captions):
        store.upsert(units, t.embed_text(caps))  # hash vectors of a caption stand in for media encoders
    return store
