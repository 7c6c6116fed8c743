"""Fusion strategies and confidence against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmrag.graph import fusion_nets
from mmrag.graph.confidence import calibrate, signals
from mmrag.graph.fusion import aggregate_entities, fuse, minmax, rrf_fusion, score_fusion, zscore
from mmrag.graph.models import SubQuery
from mmrag.schemas import Hit


def hit(i: str, m: str, s: float, rank: int = 1, entity: str | None = None, query: str | None = None) -> Hit:
    ch = "text" if m == "text" else ("image" if m in ("image", "video") else "audio")
    return Hit(id=i, modality=m, channel=ch, score=s, rank=rank, source=f"{i}.x", entity=entity, query=query)


HITS = {
    "text": [hit("t1", "text", 0.8, 1, "a"), hit("t2", "text", 0.6, 2, "b"), hit("t3", "text", 0.4, 3)],
    "image": [hit("i1", "image", 0.3, 1, "b"), hit("i2", "image", 0.2, 2, "a")],
}


def test_normalisations():
    assert minmax([0.8, 0.6, 0.4]) == pytest.approx([1.0, 0.5, 0.0])
    assert minmax([0.3]) == [1.0]
    z = zscore([1.0, 2.0, 3.0])
    assert z == pytest.approx([-math.sqrt(1.5), 0.0, math.sqrt(1.5)])
    assert zscore([2.0, 2.0]) == [0.0, 0.0]


def test_score_fusion_minmax_weights_and_dominant_bias():
    out = score_fusion(HITS, weights={"image": 2.0}, dominant="text", bias=0.5)
    got = {f.id: round(f.score, 6) for f in out}
    # text weight 1 * 1.5 (dominant); image weight 2
    assert got == {"t1": 1.5, "t2": 0.75, "t3": 0.0, "i1": 2.0, "i2": 0.0}
    assert [f.id for f in out][:2] == ["i1", "t1"]
    assert out[0].contributions == {"image": 2.0}


def test_score_fusion_zscore():
    out = score_fusion(HITS, normalisation="zscore")
    got = {f.id: f.score for f in out}
    assert got["t1"] == pytest.approx(math.sqrt(1.5))
    assert got["i1"] == pytest.approx(1.0) and got["i2"] == pytest.approx(-1.0)


def test_rrf_hand_computed_and_duplicates_add_up():
    hits = {"text": [hit("x", "text", 0.9, 1), hit("y", "text", 0.5, 2)], "image": [hit("x", "image", 0.2, 1)]}
    out = rrf_fusion(hits, weights={"image": 2.0})
    got = {f.id: f.score for f in out}
    assert got["x"] == pytest.approx(1 / 61 + 2 / 61)
    assert got["y"] == pytest.approx(1 / 62)
    assert out[0].contributions == pytest.approx({"text": 1 / 61, "image": 2 / 61})


def test_moe_with_hand_set_gate_reweights_modalities():
    gate = fusion_nets.MoEGate(dim=4)
    with torch.no_grad():
        for p in gate.parameters():
            p.zero_()
        gate.net[2].bias.copy_(torch.tensor([0.0, math.log(3.0), 0.0, 0.0]))  # image 3x the others
    from mmrag.graph.fusion import moe_fusion

    out = moe_fusion(HITS, np.ones(4, dtype=np.float32), gate=gate)
    w_text, w_image = 4 * 1 / 6, 4 * 3 / 6  # gate weights x raw similarities
    got = {f.id: f.score for f in out}
    assert got["t1"] == pytest.approx(w_text * 0.8) and got["i1"] == pytest.approx(w_image * 0.3)
    assert out[0].id == "i1"


def test_attention_fusion_uses_its_net():
    from mmrag.graph.fusion import attention_fusion

    net = fusion_nets.AttentionFusion(dim=4)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.out[2].bias.fill_(0.7)
    out = attention_fusion(HITS, np.zeros(4, dtype=np.float32), model=net)
    assert len(out) == 5
    assert all(f.score == pytest.approx(1 / (1 + math.exp(-0.7))) for f in out)


def test_fuse_requires_query_embedding_for_learned_strategies():
    with pytest.raises(ValueError):
        fuse(HITS, "moe")
    with pytest.raises(ValueError):
        fuse(HITS, "nope")


def test_aggregate_entities_keeps_best_item_per_modality():
    out = score_fusion(HITS)  # t1 1.0(a) t2 .5(b) i1 1.0(b) i2 0(a)
    ents = aggregate_entities(out)
    assert [e.entity for e in ents] == ["b", "a"]
    assert ents[0].score == pytest.approx(1.5)
    assert ents[0].contributions == pytest.approx({"text": 0.5, "image": 1.0})
    assert ents[1].items == {"text": "t1"}  # a's image item scored 0: no contribution


def test_confidence_signals_hand_computed():
    fused = score_fusion(HITS)
    subs = [SubQuery(text="q1", modality="text"), SubQuery(text="q2", modality="image")]
    parts = signals(fused, HITS, subs, best={"text:q1": 0.8, "image:q2": 0.05}, min_score=0.1)
    # top items t1 and i1 tie at 1.0; the higher raw score (t1, .8) leads
    assert [f.id for f in fused[:2]] == ["t1", "i1"]
    assert parts["top"] == pytest.approx(0.8)
    assert parts["margin"] == pytest.approx(0.0)
    assert parts["agreement"] == pytest.approx(0.5)  # text top is entity a (as t1), image top is b
    assert parts["coverage"] == pytest.approx(0.5)
    coef = {"bias": -1.0, "top": 2.0, "margin": 1.0, "agreement": 1.0, "coverage": 1.0}
    assert calibrate(parts, coef) == pytest.approx(1 / (1 + math.exp(-(-1 + 1.6 + 0 + 0.5 + 0.5))))
    # a stand-in sub-query (from a widening hop) that finds something covers the need it stands in for
    subs.append(SubQuery(text="q3", modality="text", group="image:q2"))
    parts = signals(fused, HITS, subs, best={"text:q1": 0.8, "image:q2": 0.05, "text:q3": 0.5}, min_score=0.1)
    assert parts["coverage"] == pytest.approx(1.0)


def test_shipped_weights_load_offline():
    if not (fusion_nets.WEIGHTS_DIR / "moe_gate.safetensors").exists():
        pytest.skip("fusion weights not trained yet")
    from mmrag.graph.confidence import load_coefficients

    assert set(load_coefficients(fitted=True)) == {"bias", "top", "margin", "agreement", "coverage"}
    gate, meta = fusion_nets.load("moe_gate")
    att, _ = fusion_nets.load("attention_fusion")
    assert meta["encoder"] == "minilm"
    w = gate(torch.zeros(1, gate.dim))[0]
    assert w.sum().item() == pytest.approx(4.0, abs=1e-4)
    assert att(torch.zeros(1, 3, fusion_nets.N_FEATURES), torch.zeros(1, att.dim)).shape == (1, 3)
