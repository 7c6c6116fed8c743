#!/usr/bin/env python
"""Field service: "diagnose this engine sound plus a photo of the part".

A query made of an audio file (the machine running) and an image file (the worn part), asked of a
small service knowledge base: for three machines, a recording of its known fault, a photo of the
part and a manual page. Everything is generated here with numpy/Pillow (nothing downloaded), so
the example runs anywhere:

    .venv/bin/python examples/field_service.py                      # real encoders, ~1 minute
    .venv/bin/python examples/field_service.py --work /tmp/fs --encoders hash   # model-free, seconds

It writes the knowledge base to WORK/kb, the query files to WORK/query, the store to WORK/store,
and prints the answer with its citations (`[audio 1 at 0:00]`, `[img 2]`, `[1]`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SR = 16000
QUESTION = "What is wrong with this machine and which part do I replace?"
MACHINES = {
    "pump_p100": ("Pump P-100", "bearing", "Manual, Pump P-100, section 4.2: a high-pitched whine that rises with speed "
                  "means the motor bearing is worn. Replace bearing part number BRG-6204 and regrease."),
    "compressor_c20": ("Compressor C-20", "belt", "Manual, Compressor C-20, section 3.1: a squeal at start-up means the "
                       "drive belt slips or is glazed. Replace belt part number BLT-A42 and set the tension."),
    "engine_e5": ("Engine E-5", "gear", "Manual, Engine E-5, section 6.3: a rhythmic knocking under load means a chipped "
                  "timing gear tooth. Replace gear part number GR-36T and inspect the chain."),
}


def _level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x * 10 ** ((dbfs - 20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)) / 20)).astype(np.float32)


def fault_sound(fault: str, seed: int, seconds: float = 4.0) -> np.ndarray:
    """Synthetic fault recordings: bearing whine, belt squeal bursts, or rhythmic knocking."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    x = 0.05 * rng.standard_normal(t.size)
    if fault == "bearing":
        f0 = 2900 + 100 * t / seconds
        x += sum(np.sin(2 * np.pi * k * np.cumsum(f0) / SR) / k for k in (1, 2, 3)) * (0.7 + 0.3 * np.sin(2 * np.pi * 30 * t))
    elif fault == "belt":
        for start in np.arange(0.2, seconds - 0.6, 1.1) + rng.uniform(0, 0.1):
            m = (t >= start) & (t < start + 0.5)
            x[m] += np.sin(2 * np.pi * (1400 + 500 * (t[m] - start)) * t[m]) * np.hanning(m.sum())
    else:
        for start in np.arange(0.05, seconds - 0.1, 1 / 6.0) + rng.uniform(0, 0.01):
            k = np.arange(int(0.08 * SR))
            i = int(start * SR)
            x[i : i + k.size] += 2.0 * np.exp(-k / (0.01 * SR)) * np.sin(2 * np.pi * 180 * k / SR)
    return _level(x, -20.0)


def part_photo(part: str, seed: int, angle: float = 0.0) -> Image.Image:
    """A drawn photo of a part on a workbench: ball bearing, drive belt, or gear."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (256, 256), (150, 140, 120))
    d = ImageDraw.Draw(img)
    c = 128
    if part == "bearing":
        d.ellipse([28, 28, 228, 228], fill=(180, 180, 190), outline=(60, 60, 70), width=6)
        d.ellipse([78, 78, 178, 178], fill=(150, 140, 120), outline=(60, 60, 70), width=6)
        for a in np.linspace(0, 2 * np.pi, 10, endpoint=False):
            x, y = c + 76 * np.cos(a), c + 76 * np.sin(a)
            d.ellipse([x - 14, y - 14, x + 14, y + 14], fill=(220, 220, 230), outline=(40, 40, 40))
    elif part == "belt":
        d.rounded_rectangle([20, 70, 236, 186], radius=58, outline=(25, 25, 25), width=18)
        d.ellipse([40, 100, 96, 156], fill=(120, 120, 125))
        d.ellipse([160, 100, 216, 156], fill=(120, 120, 125))
    else:
        teeth = 18
        pts = []
        for i in range(teeth * 2):
            a = np.pi * i / teeth
            r = 110 if i % 2 == 0 else 88
            pts.append((c + r * np.cos(a), c + r * np.sin(a)))
        d.polygon(pts, fill=(170, 120, 60), outline=(70, 50, 20))
        d.ellipse([98, 98, 158, 158], fill=(150, 140, 120))
    arr = np.asarray(img.rotate(angle, fillcolor=(150, 140, 120)), dtype=np.float32) + rng.normal(0, 8, (256, 256, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def build_kb(kb: Path) -> None:
    import soundfile as sf

    entities = {}
    for i, (slug, (name, part, manual)) in enumerate(MACHINES.items()):
        folder = kb / slug
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(str(folder / "fault_recording.flac"), fault_sound(part, seed=10 + i), SR)
        part_photo(part, seed=20 + i).save(folder / f"{part}.jpg", quality=85)
        (folder / "manual.md").write_text(manual + "\n")
        entities[f"{slug}/*"] = name
    (kb / "manifest.json").write_text(json.dumps({"entities": entities}, indent=2) + "\n")


def build_query(folder: Path, fault: str = "bearing") -> tuple[Path, Path]:
    """A new recording and a new photo of the same fault (other seed, rotated, noisier)."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    audio, image = folder / "on_site.wav", folder / "worn_part.jpg"
    sf.write(str(audio), fault_sound(fault, seed=99), SR)
    part_photo(fault, seed=98, angle=17.0).save(image, quality=80)
    return audio, image


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--fault", choices=["bearing", "belt", "gear"], default="bearing", help="the fault the query shows")
    ap.add_argument("--encoders", choices=["default", "hash"], default="default", help="hash: model-free, for a quick look")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="mmrag-field-service-"))

    from mmrag import api
    from mmrag.graph.rag import MultimodalRAG

    encoders = {"text": "hash-text", "image": "hash-image", "audio": "hash-audio"} if args.encoders == "hash" else None
    build_kb(work / "kb")
    audio, image = build_query(work / "query", args.fault)
    report = api.ingest(work / "kb", store=str(work / "store"), encoders=encoders, transcripts=False)
    extra = {"min_score": -1.0} if encoders else {}
    rag = MultimodalRAG(store=str(work / "store"), encoders=encoders, **extra)
    ans = rag.ask(QUESTION, image=image, audio=audio)
    if args.json:
        print(json.dumps(ans.to_json(), indent=2))
        return 0
    print(f"knowledge base: {work / 'kb'} ({report.files_ingested} files ingested, {report.seconds:.1f} s)")
    print(f"query: {QUESTION!r} + {audio.name} + {image.name}\n")
    print(ans.text + "\n")
    for c in ans.citations:
        print(f"  {c.marker:<18} {c.modality:<6} {c.source}  ({c.entity})")
    print(f"confidence {ans.confidence:.2f}, hops {ans.hops}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
