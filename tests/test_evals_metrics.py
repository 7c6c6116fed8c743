"""Metrics against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from mmrag.evals import metrics as M


def test_recall_mrr_ndcg_single_gold() -> None:
    ranking = ["a", "b", "c", "d"]
    q = M.per_query(ranking, {"c"})
    assert q["recall@1"] == 0.0 and q["recall@5"] == 1.0 and q["recall@10"] == 1.0
    assert q["mrr"] == pytest.approx(1 / 3)
    assert q["ndcg@10"] == pytest.approx(1 / math.log2(4))  # 0.5


def test_ndcg_two_gold() -> None:
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert M.ndcg_at_k(["a", "b", "c", "d"], ["b", "d"], 10) == pytest.approx(dcg / ideal)  # 0.6509
    assert M.ndcg_at_k(["b", "d", "a"], ["b", "d"], 10) == pytest.approx(1.0)
    # gold beyond the cut-off counts for nothing; ideal caps at k gold items
    assert M.ndcg_at_k(["x"] * 10 + ["g"], ["g"], 10) == 0.0


def test_missing_gold_scores_zero() -> None:
    q = M.per_query(["a", "b"], {"z"})
    assert all(v == 0.0 for v in q.values())
    assert M.first_relevant_rank(["a", "b"], ["b"]) == 2
    assert M.first_relevant_rank(["a"], ["b"]) is None


def test_recall_at_k_cutoff() -> None:
    ranking = [str(i) for i in range(20)]
    assert M.recall_at_k(ranking, {"5"}, 5) == 0.0  # rank 6
    assert M.recall_at_k(ranking, {"5"}, 10) == 1.0


def test_recall_curve() -> None:
    assert M.recall_curve([1, 3, None, 10], max_k=10) == [0.25, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.75]


def test_bootstrap_interval() -> None:
    const = M.bootstrap_ci([0.4] * 30)
    assert const.value == const.low == const.high == pytest.approx(0.4)
    half = M.bootstrap_ci([0.0, 1.0] * 50)
    assert half.value == 0.5
    assert 0.35 < half.low < 0.45 and 0.55 < half.high < 0.65  # ~ 0.5 +- 1.96 * 0.05
    assert M.bootstrap_ci([0.0, 1.0] * 50) == half  # fixed seed: reproducible
    vals = [(i * 37 % 101) / 101 for i in range(60)]
    assert M.bootstrap_ci(vals, seed=1) != M.bootstrap_ci(vals, seed=0)  # the seed is what fixes it


def test_aggregate_means() -> None:
    rows = [M.per_query(["a", "b"], {"a"}), M.per_query(["a", "b"], {"b"})]
    agg = M.aggregate(rows, n_boot=50)
    assert agg["recall@1"].value == 0.5 and agg["mrr"].value == pytest.approx(0.75)


def test_ece_and_bins() -> None:
    conf, ok = [0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0]
    # bin 0.9: acc 0.5, conf 0.9 -> 0.4 * 2/4 ; bin 0.1: acc 0, conf 0.1 -> 0.1 * 2/4
    assert M.expected_calibration_error(conf, ok) == pytest.approx(0.25)
    bins = M.reliability_bins([1.0, 0.0, 0.55], [1, 0, 1], n_bins=10)
    assert bins[9].count == 1 and bins[0].count == 1 and bins[5].count == 1
    assert bins[5].accuracy == 1.0 and bins[5].confidence == pytest.approx(0.55)
    assert M.expected_calibration_error([1.0, 0.0], [1, 0]) == 0.0
    with pytest.raises(ValueError):
        M.reliability_bins([0.5], [1, 0])


def test_chance_recall() -> None:
    assert M.chance_recall(1000, 1, 1) == pytest.approx(0.001)
    assert M.chance_recall(14, 1, 10) == pytest.approx(10 / 14)
    assert M.chance_recall(10, 2, 1) == pytest.approx(0.2)
    assert M.chance_recall(10, 2, 2) == pytest.approx(1 - (8 * 7) / (10 * 9))
    assert M.chance_recall(5, 1, 10) == 1.0


def test_local_fusion_strategies_hand_computed() -> None:
    from mmrag.evals import fusion as F

    lists = {"text": [("t1", 0.9), ("t2", 0.5), ("t3", 0.4)], "image": [("i1", 0.3), ("i2", 0.1)]}
    # min-max: t1 1.0, i1 1.0 (tie -> raw cosine: t1 first), t2 0.2, t3 0.0, i2 0.0 (tie -> t3 0.4 > i2 0.1)
    assert [i for i, _ in F.score_minmax(lists)] == ["t1", "i1", "t2", "t3", "i2"]
    mm = dict(F.score_minmax(lists))
    assert mm["t2"] == pytest.approx(0.2)
    # z-score: text mean 0.6, sd 0.216 -> t1 1.389; image mean 0.2, sd 0.1 -> i1 1.0, i2 -1.0
    z = dict(F.score_zscore(lists))
    assert z["t1"] == pytest.approx(0.3 / math.sqrt(0.14 / 3)) and z["i1"] == pytest.approx(1.0)
    r = F.rrf(lists)
    assert r[0] == ("t1", pytest.approx(1 / 61)) and r[1][0] == "i1" and r[2][1] == pytest.approx(1 / 62)
    assert [i for i, _ in F.raw_cosine(lists)][:3] == ["t1", "t2", "t3"]
