"""Evaluators return {"key", "score"} and plug into langsmith's evaluator wrapper without a key."""

from __future__ import annotations

import datetime
import uuid

import pytest

from mmrag.evals import evaluators as V

OUT = {"ranking": ["x", "g", "y"]}
REF = {"relevant": ["g"]}


def test_retrieval_evaluators_shape_and_values() -> None:
    got = {r["key"]: r["score"] for r in (ev(outputs=OUT, reference_outputs=REF, inputs={}) for ev in V.RETRIEVAL_EVALUATORS)}
    assert got == {"recall@1": 0.0, "recall@5": 1.0, "recall@10": 1.0, "mrr": 0.5, "ndcg@10": pytest.approx(0.6309, abs=1e-4)}


def test_answer_evaluators() -> None:
    out = {
        "answer": "A dog barks [audio 1 at 0:02] near a park [img 2]; also [3].",
        "citations": [{"marker": "[audio 1 at 0:02]", "id": "u1"}, {"marker": "[img 2]", "id": "u2"},
                      {"marker": "[3]", "id": "u9"}],
        "retrieved": ["u1", "u2"],
    }
    assert V.markers(out["answer"]) == ["[audio 1 at 0:02]", "[img 2]", "[3]"]
    assert V.grounding(outputs=out)["score"] == pytest.approx(2 / 3)  # [3] points outside the retrieved set
    item_of = {"u1": "esc50/dog.flac", "u2": "flickr/park.jpg", "u9": "other"}
    ref = {"relevant": ["esc50/dog.flac"]}
    assert V.citation_precision(outputs=out, reference_outputs=ref, item_of=item_of)["score"] == pytest.approx(1 / 3)
    assert V.citation_recall(outputs=out, reference_outputs=ref, item_of=item_of)["score"] == 1.0
    assert V.citation_recall(outputs=out, reference_outputs={"relevant": ["zzz"]}, item_of=item_of)["score"] == 0.0
    none = {"answer": "no idea", "citations": [], "retrieved": []}
    assert V.grounding(outputs=none) == {"key": "grounding", "score": 1.0, "comment": "no citation markers"}
    assert V.citation_precision(outputs=none, reference_outputs=ref)["score"] is None


def test_plugs_into_langsmith_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    from langsmith.evaluation.evaluator import run_evaluator
    from langsmith.schemas import Example, Run

    now = datetime.datetime.now(datetime.timezone.utc)
    run = Run(id=uuid.uuid4(), name="retrieve", start_time=now, run_type="chain", inputs={"q": "dog"},
              outputs=OUT, trace_id=uuid.uuid4())
    example = Example(id=uuid.uuid4(), dataset_id=uuid.uuid4(), inputs={"q": "dog"}, outputs=REF, created_at=now)
    results = [run_evaluator(ev).evaluate_run(run, example) for ev in V.RETRIEVAL_EVALUATORS]
    assert [(r.key, r.score) for r in results][:3] == [("recall@1", 0.0), ("recall@5", 1.0), ("recall@10", 1.0)]
