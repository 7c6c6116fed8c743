"""Benchmark loaders with gold relevance, read from the human-labelled data in ../shared/data.

Every benchmark is a corpus of `Item`s and a list of `Query`s; each query names its gold item ids
and, for the per-modality benchmarks, the modality it searches (`target`). The mixed benchmark puts
every item in one corpus and leaves `target` unset: a query may have gold items in several
modalities. See evals/README.md for the counts and the exact gold relevance of each benchmark.
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, Field

from mmrag.errors import UserError
from mmrag.schemas import Modality

QueryModality = Literal["text", "image", "audio"]
BENCHMARKS = ("flickr8k", "esc50", "audiocaps", "video", "mixed")
SPLITS = ("train", "dev", "test")

# Natural descriptions of the 50 ESC-50 categories: the text queries of text->audio and the
# class documents of audio->class.
ESC50_DESCRIPTIONS: dict[str, str] = {
    "airplane": "an airplane flying overhead", "breathing": "a person breathing heavily",
    "brushing_teeth": "someone brushing their teeth", "can_opening": "a can being opened",
    "car_horn": "a car horn honking", "cat": "a cat meowing", "chainsaw": "a chainsaw cutting wood",
    "chirping_birds": "birds chirping", "church_bells": "church bells ringing",
    "clapping": "people clapping their hands", "clock_alarm": "an alarm clock ringing",
    "clock_tick": "a clock ticking", "coughing": "a person coughing", "cow": "a cow mooing",
    "crackling_fire": "a fire crackling", "crickets": "crickets chirping at night",
    "crow": "a crow cawing", "crying_baby": "a baby crying", "dog": "a dog barking",
    "door_wood_creaks": "a wooden door creaking", "door_wood_knock": "knocking on a wooden door",
    "drinking_sipping": "someone sipping a drink", "engine": "an engine running",
    "fireworks": "fireworks exploding", "footsteps": "footsteps walking",
    "frog": "a frog croaking", "glass_breaking": "glass breaking", "hand_saw": "a hand saw sawing wood",
    "helicopter": "a helicopter flying", "hen": "a hen clucking", "insects": "insects buzzing",
    "keyboard_typing": "typing on a keyboard", "laughing": "a person laughing",
    "mouse_click": "a computer mouse clicking", "pig": "a pig oinking", "pouring_water": "water being poured",
    "rain": "rain falling", "rooster": "a rooster crowing", "sea_waves": "sea waves crashing on the shore",
    "sheep": "a sheep bleating", "siren": "a siren wailing", "sneezing": "a person sneezing",
    "snoring": "a person snoring", "thunderstorm": "thunder during a storm", "toilet_flush": "a toilet flushing",
    "train": "a train passing", "vacuum_cleaner": "a vacuum cleaner running",
    "washing_machine": "a washing machine running", "water_drops": "water dripping", "wind": "wind blowing",
}


class Item(BaseModel):
    """One corpus item: a file (image, audio, video) or a text document."""

    id: str
    modality: Modality
    path: str | None = Field(default=None, description="Absolute path of the media file.")
    text: str | None = Field(default=None, description="Text of a text document.")
    group: str = Field(description="Dataset the item comes from, e.g. 'flickr8k'.")


class Query(BaseModel):
    """One query with its gold item ids."""

    id: str
    type: str = Field(description="Query type, e.g. 'text->image', 'audio->video'.")
    modality: QueryModality
    text: str | None = None
    path: str | None = None
    target: Modality | None = Field(default=None, description="Modality searched; None = the whole corpus.")
    relevant: list[str]
    group: str


class Benchmark(BaseModel):
    name: str
    split: str
    items: list[Item]
    queries: list[Query]
    files: list[str] = Field(description="Data files the benchmark reads (hashed into the report).")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for it in self.items:
            out[f"items:{it.modality}"] = out.get(f"items:{it.modality}", 0) + 1
        for q in self.queries:
            out[f"queries:{q.type}"] = out.get(f"queries:{q.type}", 0) + 1
        return out


def data_root() -> Path:
    """`$MMRAG_DATA`, else ../shared/data beside the repository."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("MMRAG_DATA", str(default)))


def _need(path: Path) -> Path:
    if not path.exists():
        raise UserError(f"evaluation data not found: {path} (set MMRAG_DATA to the shared data folder)")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with _need(path).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _only_test(name: str, split: str) -> None:
    if split != "test":
        raise UserError(f"benchmark {name!r} has only a 'test' split (held-out data), not {split!r}")


def load_flickr8k(split: str = "test", root: Path | None = None) -> Benchmark:
    """Flickr8k: text->image (each caption finds its image) and image->text (an image finds its 5 captions)."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    base = (root or data_root()) / "flickr8k"
    split_file = _need(base / "splits" / f"{split}.txt")
    names = [n.strip() for n in split_file.read_text().splitlines() if n.strip()]
    wanted = set(names)
    caps: dict[str, list[tuple[int, str]]] = {n: [] for n in names}
    for row in _rows(base / "captions.csv"):
        if row["image"] in wanted:
            caps[row["image"]].append((int(row["caption_index"]), row["caption"].strip()))
    items: list[Item] = []
    queries: list[Query] = []
    for name in names:
        img_id = f"flickr8k/img/{name}"
        items.append(Item(id=img_id, modality="image", path=str(base / "images" / name), group="flickr8k"))
        cap_ids = []
        for idx, cap in sorted(caps[name]):
            cid = f"flickr8k/cap/{name}#{idx}"
            cap_ids.append(cid)
            items.append(Item(id=cid, modality="text", text=cap, group="flickr8k"))
            queries.append(Query(id=f"t2i:{cid}", type="text->image", modality="text", text=cap,
                                 target="image", relevant=[img_id], group="flickr8k"))
        queries.append(Query(id=f"i2t:{img_id}", type="image->text", modality="image",
                             path=str(base / "images" / name), target="text", relevant=cap_ids, group="flickr8k"))
    files = [str(base / "captions.csv"), str(split_file)] + [str(base / "images" / n) for n in names]
    return Benchmark(name="flickr8k", split=split, items=items, queries=queries, files=files)


def esc50_group_split(src_file: str) -> str:
    """The split of an ESC-50 recording, grouped by `src_file` (~60% train, 15% dev, 25% test): the
    encoders' own rule (mmrag.encoders.datasets) when present, so that their training clips never
    reach our test split; the same sha256 rule otherwise."""
    try:
        from mmrag.encoders.datasets import esc50_group_split as rule

        return str(rule(src_file))
    except ImportError:
        h = int(hashlib.sha256(src_file.encode()).hexdigest()[:8], 16) % 100
        return "train" if h < 60 else ("dev" if h < 75 else "test")


def load_esc50(split: str = "test", root: Path | None = None) -> Benchmark:
    """ESC-50 fold 4: text->audio by class description (gold: that class's clips) and audio->class
    (gold: the clip's class description). `split="all"` is all 400 clips / 50 classes; train/dev/test
    are the src_file-grouped parts (test: the recordings the encoders never trained on)."""
    if split not in SPLITS + ("all",):
        raise UserError(f"unknown split {split!r} for esc50; choose from all, {', '.join(SPLITS)}")
    base = (root or data_root()) / "esc50"
    all_rows = _rows(base / "esc50_fold4.csv")
    rows = [r for r in all_rows if split == "all" or esc50_group_split(r["src_file"]) == split]
    items: list[Item] = []
    by_class: dict[str, list[str]] = {}
    for row in rows:
        cid = f"esc50/{row['file']}"
        items.append(Item(id=cid, modality="audio", path=str(base / "audio" / row["file"]), group="esc50"))
        by_class.setdefault(row["category"], []).append(cid)
    queries: list[Query] = []
    for cat in sorted({r["category"] for r in all_rows}):
        desc = ESC50_DESCRIPTIONS.get(cat, cat.replace("_", " "))
        items.append(Item(id=f"esc50/class/{cat}", modality="text", text=desc, group="esc50"))
        if by_class.get(cat):
            queries.append(Query(id=f"t2a:{cat}", type="text->audio", modality="text", text=desc,
                                 target="audio", relevant=by_class[cat], group="esc50"))
    for row in rows:
        queries.append(Query(id=f"a2c:{row['file']}", type="audio->class", modality="audio",
                             path=str(base / "audio" / row["file"]), target="text",
                             relevant=[f"esc50/class/{row['category']}"], group="esc50"))
    files = [str(base / "esc50_fold4.csv")] + [str(base / "audio" / r["file"]) for r in rows]
    return Benchmark(name="esc50", split=split, items=items, queries=queries, files=files)


def load_audiocaps(split: str = "test", root: Path | None = None) -> Benchmark:
    """AudioCaps test clips: text->audio, each of the 70 human captions finds its clip among 14."""
    _only_test("audiocaps", split)
    base = (root or data_root()) / "audiocaps"
    rows = _rows(base / "captions.csv")
    clips = sorted({r["clip"] for r in rows})
    items = [Item(id=f"audiocaps/audio/{c}", modality="audio", path=str(base / "audio" / f"{c}.flac"),
                  group="audiocaps") for c in clips]
    queries = [Query(id=f"t2a:{r['audiocap_id']}", type="text->audio", modality="text", text=r["caption"].strip(),
                     target="audio", relevant=[f"audiocaps/audio/{r['clip']}"], group="audiocaps") for r in rows]
    files = [str(base / "captions.csv")] + [str(base / "audio" / f"{c}.flac") for c in clips]
    return Benchmark(name="audiocaps", split=split, items=items, queries=queries, files=files)


def _video_parts(root: Path) -> tuple[list[Item], list[Query], list[str]]:
    ac, msr = root / "audiocaps", root / "msrvtt"
    items: list[Item] = []
    queries: list[Query] = []
    files: list[str] = [str(ac / "captions.csv"), str(msr / "captions.csv")]
    for r in _rows(msr / "captions.csv"):
        vid = f"msrvtt/video/{r['video_id']}"
        path = _need(msr / "video" / f"{r['video_id']}.mp4")
        items.append(Item(id=vid, modality="video", path=str(path), group="msrvtt"))
        files.append(str(path))
        queries.append(Query(id=f"t2v:{r['key']}", type="text->video", modality="text", text=r["sentence"].strip(),
                             target="video", relevant=[vid], group="msrvtt"))
    ac_rows = _rows(ac / "captions.csv")
    for clip in sorted({r["clip"] for r in ac_rows}):
        path = ac / "video" / f"{clip}.mp4"
        if not path.exists():
            continue
        vid = f"audiocaps/video/{clip}"
        items.append(Item(id=vid, modality="video", path=str(path), group="audiocaps"))
        files.append(str(path))
        for r in ac_rows:
            if r["clip"] == clip:
                queries.append(Query(id=f"t2v:{r['audiocap_id']}", type="text->video", modality="text",
                                     text=r["caption"].strip(), target="video", relevant=[vid], group="audiocaps"))
        queries.append(Query(id=f"a2v:{clip}", type="audio->video", modality="audio",
                             path=str(ac / "audio" / f"{clip}.flac"), target="video", relevant=[vid],
                             group="audiocaps"))
        files.append(str(ac / "audio" / f"{clip}.flac"))
    return items, queries, files


def load_video(split: str = "test", root: Path | None = None) -> Benchmark:
    """MSR-VTT (24) + AudioCaps (11) videos: caption->video, and audio->video (a clip's sound finds its video)."""
    _only_test("video", split)
    items, queries, files = _video_parts(root or data_root())
    return Benchmark(name="video", split=split, items=items, queries=queries, files=files)


def load_mixed(split: str = "test", root: Path | None = None) -> Benchmark:
    """Everything in one corpus; text queries whose gold items may sit in several modalities.

    Corpus: Flickr8k test images, one text document per image made of its captions 1-4, the
    ESC-50 held-out (test-group) clips, the 14 AudioCaps clips and the 35 videos. Queries: each image's caption 0
    (gold: the image and its caption document), ESC-50 class descriptions (gold: the 8 clips),
    AudioCaps captions (gold: the clip and its video, where there is one), MSR-VTT captions (gold: the video).
    """
    _only_test("mixed", split)
    root = root or data_root()
    fl, esc, ac = load_flickr8k("test", root), load_esc50("test", root), load_audiocaps("test", root)
    v_items, v_queries, v_files = _video_parts(root)
    items: list[Item] = [it for it in fl.items if it.modality == "image"]
    caps: dict[str, list[Item]] = {}
    for it in fl.items:
        if it.modality == "text":
            caps.setdefault(it.id.split("#")[0].replace("/cap/", "/img/"), []).append(it)
    queries: list[Query] = []
    for img in [it for it in fl.items if it.modality == "image"]:
        first, rest = caps[img.id][0], caps[img.id][1:]
        doc_id = img.id.replace("/img/", "/doc/")
        items.append(Item(id=doc_id, modality="text", text=" ".join(c.text or "" for c in rest), group="flickr8k"))
        queries.append(Query(id=f"mix:{first.id}", type="text->image+text", modality="text", text=first.text,
                             relevant=[img.id, doc_id], group="flickr8k"))
    items += [it for it in esc.items if it.modality == "audio"] + ac.items + v_items
    queries += [q.model_copy(update={"id": "mix:" + q.id, "target": None}) for q in esc.queries
                if q.type == "text->audio"]
    videos = {it.id for it in v_items}
    for q in ac.queries:
        vid = q.relevant[0].replace("/audio/", "/video/")
        rel = q.relevant + ([vid] if vid in videos else [])
        queries.append(q.model_copy(update={"id": "mix:" + q.id, "target": None, "relevant": rel,
                                            "type": "text->audio+video" if len(rel) > 1 else "text->audio"}))
    queries += [q.model_copy(update={"id": "mix:" + q.id, "target": None}) for q in v_queries
                if q.group == "msrvtt"]
    files = sorted(set(fl.files + esc.files + ac.files + v_files))
    return Benchmark(name="mixed", split=split, items=items, queries=queries, files=files)


LOADERS: dict[str, Callable[..., Benchmark]] = {
    "flickr8k": load_flickr8k, "esc50": load_esc50, "audiocaps": load_audiocaps,
    "video": load_video, "mixed": load_mixed,
}


def load_benchmark(name: str, split: str = "test", root: Path | None = None) -> Benchmark:
    if name not in LOADERS:
        raise UserError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    return LOADERS[name](split, root)


def limit_benchmark(bench: Benchmark, n: int) -> Benchmark:
    """A small, still valid copy: the first `n` queries of each type, their gold items, and the
    first `n` items of each modality as distractors."""
    if n <= 0:
        raise UserError("--limit must be positive")
    seen: dict[str, int] = {}
    queries: list[Query] = []
    for q in bench.queries:
        seen[q.type] = seen.get(q.type, 0) + 1
        if seen[q.type] <= n:
            queries.append(q)
    keep = {r for q in queries for r in q.relevant}
    per_mod: dict[str, int] = {}
    for it in bench.items:
        per_mod[it.modality] = per_mod.get(it.modality, 0) + 1
        if per_mod[it.modality] <= n:
            keep.add(it.id)
    items = [it for it in bench.items if it.id in keep]
    used = {it.path for it in items if it.path} | {q.path for q in queries if q.path}
    files = [f for f in bench.files if f in used or not f.endswith((".jpg", ".flac", ".mp4"))]
    return bench.model_copy(update={"items": items, "queries": queries, "files": files})
