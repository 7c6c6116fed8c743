"""How a modality's retriever scores an item from its channels' unit hits (tools.retrieval)."""

from __future__ import annotations

import numpy as np

from mmrag.evals.retrieval import combine_collections
from mmrag.schemas import Hit
from mmrag.tools.retrieval import combine_channels, merge_by_item


def unit(source: str, channel: str, score: float, start: float = 0.0) -> Hit:
    return Hit(id=f"{source}#{channel}#{start}", modality="video", channel=channel, score=score, rank=1,
               source=source, start=start)


def test_combine_channels_means_media_and_lets_exact_text_win():
    assert abs(combine_channels({"image": 0.4, "audio": 0.2}) - 0.3) < 1e-9
    assert combine_channels({"image": 0.4}) == 0.4
    assert combine_channels({"image": 0.4, "text": 0.7}) == 0.7  # OCR / transcript wording
    assert combine_channels({"image": 0.4, "text": 0.1}) == 0.4  # one media channel: the max, as before
    assert combine_channels({"text": 0.5}) == 0.5


def test_video_with_both_channels_beats_one_strong_channel():
    hits = [
        unit("a.mp4", "image", 0.50), unit("a.mp4", "audio", 0.05),  # keyframe only
        unit("b.mp4", "image", 0.40), unit("b.mp4", "audio", 0.35, start=10.0),  # both agree
        unit("b.mp4", "image", 0.10, start=5.0),
    ]
    ranked = merge_by_item(hits, k=5)
    assert [h.source for h in ranked] == ["b.mp4", "a.mp4"]  # by the mean: 0.375 vs 0.275
    # shifted so the top item scores its best channel (0.40): the scale single channels have
    assert abs(ranked[0].score - 0.40) < 1e-9 and abs(ranked[1].score - 0.30) < 1e-9
    assert ranked[0].start == 0.0  # its best unit stays the evidence
    assert ranked[0].metadata["matched_channels"] == "audio,image"
    assert ranked[0].metadata["channel_scores"] == "audio:0.3500,image:0.4000"


def test_a_channel_cut_off_at_n_results_stands_in_with_its_floor():
    # a.mp4's sound was not among the audio channel's top units: it scores at most the floor there
    hits = [unit("a.mp4", "image", 0.60), unit("b.mp4", "image", 0.30), unit("b.mp4", "audio", 0.40)]
    ranked = merge_by_item(hits, k=5, floors={"audio": 0.40, "image": 0.30})
    assert [h.source for h in ranked] == ["a.mp4", "b.mp4"]  # means 0.50 and 0.35
    assert abs(ranked[0].score - 0.60) < 1e-9 and abs(ranked[1].score - 0.45) < 1e-9  # shifted by 0.10
    # not cut off: a.mp4 has no sound at all, and is scored on its keyframes alone
    assert merge_by_item(hits, k=5)[0].score == 0.60


def test_eval_combines_collections_the_same_way():
    stack = np.array([[[0.4, 0.6, -np.inf]], [[0.2, -np.inf, -np.inf]]])  # (channels, queries, items)
    got = combine_collections(stack)  # means 0.3 and 0.6; the top (0.6, one channel) needs no shift
    assert np.allclose(got[0, :2], [0.3, 0.6]) and got[0, 2] == -np.inf
    stack = np.array([[[0.5, 0.1]], [[0.3, 0.2]]])  # means 0.4 and 0.15; the top's best channel 0.5
    assert np.allclose(combine_collections(stack)[0], [0.5, 0.25])
