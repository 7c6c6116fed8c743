"""Each loader against the data's counts (skips cleanly when ../shared/data is absent)."""

from __future__ import annotations

import pytest

from mmrag.errors import UserError
from mmrag.evals import data as D

pytestmark = pytest.mark.skipif(not (D.data_root() / "flickr8k").exists(), reason="evaluation data not present")


def test_flickr8k_test_counts() -> None:
    b = D.load_flickr8k("test")
    c = b.counts()
    assert c["items:image"] == 1000 and c["items:text"] == 5000
    assert c["queries:text->image"] == 5000 and c["queries:image->text"] == 1000
    q = b.queries[0]
    assert q.type == "text->image" and len(q.relevant) == 1 and q.relevant[0].startswith("flickr8k/img/")
    i2t = [q for q in b.queries if q.type == "image->text"]
    assert all(len(q.relevant) == 5 for q in i2t)
    assert len(b.files) == 1002  # captions.csv, the split file, 1000 images
    assert {it.id for it in D.load_flickr8k("train").items if it.modality == "image"}.isdisjoint(
        {it.id for it in b.items})


def test_esc50_counts_and_grouped_splits() -> None:
    full = D.load_esc50("all")
    c = full.counts()
    assert c["items:audio"] == 400 and c["items:text"] == 50 and c["queries:text->audio"] == 50
    assert c["queries:audio->class"] == 400
    assert all(len(q.relevant) == 8 for q in full.queries if q.type == "text->audio")  # 8 clips per class
    parts = {s: D.load_esc50(s) for s in ("train", "dev", "test")}
    clips = {s: {it.id for it in b.items if it.modality == "audio"} for s, b in parts.items()}
    assert sum(len(v) for v in clips.values()) == 400
    src = {s: {i.split("/")[-1].split("-")[1] for i in v} for s, v in clips.items()}  # 4-<src_file>-<take>-<t>
    assert src["train"].isdisjoint(src["test"]) and src["dev"].isdisjoint(src["test"])
    with pytest.raises(UserError):
        D.load_esc50("bogus")


def test_audiocaps_and_video_counts() -> None:
    ac = D.load_audiocaps("test")
    assert ac.counts() == {"items:audio": 14, "queries:text->audio": 70}
    v = D.load_video("test")
    assert sum(1 for it in v.items if it.group == "msrvtt") == 24
    assert sum(1 for it in v.items if it.group == "audiocaps") == 11
    assert v.counts()["queries:text->video"] == 24 + 55 and v.counts()["queries:audio->video"] == 11
    with pytest.raises(UserError):
        D.load_video("train")


def test_mixed_corpus_gold_in_several_modalities() -> None:
    m = D.load_mixed("test")
    c = m.counts()
    assert c["items:image"] == 1000 and c["items:text"] == 1000 and c["items:video"] == 35
    assert c["items:audio"] == 14 + len([i for i in D.load_esc50("test").items if i.modality == "audio"])
    ids = {it.id: it.modality for it in m.items}
    assert all(r in ids for q in m.queries for r in q.relevant)
    multi = [q for q in m.queries if len({ids[r] for r in q.relevant}) > 1]
    assert len(multi) == 1000 + 55  # flickr (image + caption doc) and AudioCaps with video (audio + video)
    # the query caption is never part of the corpus documents
    q0 = m.queries[0]
    assert all(q0.text not in (it.text or "") for it in m.items if it.modality == "text")


def test_limit_keeps_gold() -> None:
    small = D.limit_benchmark(D.load_flickr8k("test"), 3)
    ids = {it.id for it in small.items}
    assert len(small.queries) == 6 and all(r in ids for q in small.queries for r in q.relevant)
    with pytest.raises(UserError):
        D.load_benchmark("nope")
