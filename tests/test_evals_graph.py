"""`mmrag eval graph` end to end on a tiny staged store (hash encoders, real chroma, C's graph)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmrag.evals.data import data_root

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not (data_root() / "flickr8k").exists(), reason="evaluation data not present")]


def test_eval_graph_grounding_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mmrag.graph.graph")
    from mmrag.cli import main

    monkeypatch.setenv("MMRAG_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rep"
    assert main(["eval", "graph", "--bench", "mixed", "--limit", "1", "--report", str(out),
                 "--encoders", "text=hash-text,image=hash-image,audio=hash-audio"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    mixed = metrics["graph:mixed"]
    assert mixed["questions"] == 4  # one question per mixed query type
    assert mixed["grounding"] == 1.0  # every marker resolves to a retrieved item
    assert mixed["retrievals"] >= 1 and 0.0 <= mixed["ece"] <= 1.0
    details = json.loads((out / "details.json").read_text())
    assert "decompose" in details["latency"] and len(details["reliability"]) == 10
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"
