"""openevals-style evaluators: plain functions returning {"key": ..., "score": ...}.

They take keyword arguments `outputs` and `reference_outputs` (and ignore `inputs`), which is the
signature `langsmith.evaluate(target, data=..., evaluators=[...])` passes, so they plug into
LangSmith unchanged when a key is configured; without one they are just functions.

Expected shapes:
- outputs: {"ranking": [item ids, best first]} for retrieval; for answers also
  {"answer": str, "citations": [{"marker", "id", "modality"}], "retrieved": [item ids]}
  (citation ids and retrieved ids may be unit ids; `item_of` maps them to benchmark item ids).
- reference_outputs: {"relevant": [gold item ids]}.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from .metrics import ndcg_at_k, recall_at_k, reciprocal_rank

Evaluator = Callable[..., dict[str, Any]]
MARKER = re.compile(r"\[(?:(img|audio|video) )?(\d+)(?: at [0-9:.]+)?\]")


def _ranking(outputs: Mapping[str, Any]) -> list[str]:
    return [str(x) for x in (outputs or {}).get("ranking", [])]


def _relevant(reference_outputs: Mapping[str, Any]) -> list[str]:
    return [str(x) for x in (reference_outputs or {}).get("relevant", [])]


def recall_at(k: int) -> Evaluator:
    """An evaluator for recall@k (1.0 when a gold item is in the top k)."""

    def evaluator(*, outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        return {"key": f"recall@{k}", "score": recall_at_k(_ranking(outputs), _relevant(reference_outputs), k)}

    evaluator.__name__ = f"recall_at_{k}"
    return evaluator


def mrr(*, outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any], **_: Any) -> dict[str, Any]:
    return {"key": "mrr", "score": reciprocal_rank(_ranking(outputs), _relevant(reference_outputs))}


def ndcg_at_10(*, outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any], **_: Any) -> dict[str, Any]:
    return {"key": "ndcg@10", "score": ndcg_at_k(_ranking(outputs), _relevant(reference_outputs), 10)}


def markers(text: str) -> list[str]:
    """Citation markers in an answer, e.g. ['[1]', '[img 3]', '[audio 2 at 0:34]']."""
    return [m.group(0) for m in MARKER.finditer(text or "")]


def grounding(*, outputs: Mapping[str, Any], **_: Any) -> dict[str, Any]:
    """Share of citation markers in the answer that resolve to a retrieved item (must be 1.0).

    A marker resolves when some citation carries that marker and an id among `retrieved`.
    An answer without markers scores 1.0 (nothing ungrounded) and says so in `comment`.
    """
    found = markers(str(outputs.get("answer", "")))
    retrieved = {str(x) for x in outputs.get("retrieved", [])}
    by_marker = {str(c.get("marker")): str(c.get("id")) for c in outputs.get("citations", [])}
    if not found:
        return {"key": "grounding", "score": 1.0, "comment": "no citation markers"}
    ok = sum(1 for m in found if by_marker.get(m) in retrieved)
    return {"key": "grounding", "score": ok / len(found)}


def _cited_items(outputs: Mapping[str, Any], item_of: Mapping[str, str] | None) -> list[str]:
    ids = [str(c.get("id")) for c in outputs.get("citations", [])]
    return [item_of.get(i, i) if item_of else i for i in ids]


def citation_precision(*, outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any],
                       item_of: Mapping[str, str] | None = None, **_: Any) -> dict[str, Any]:
    """Share of cited items that are gold (None when nothing is cited)."""
    cited = _cited_items(outputs, item_of)
    gold = set(_relevant(reference_outputs))
    if not cited:
        return {"key": "citation_precision", "score": None, "comment": "no citations"}
    return {"key": "citation_precision", "score": sum(1 for c in cited if c in gold) / len(cited)}


def citation_recall(*, outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any],
                    item_of: Mapping[str, str] | None = None, **_: Any) -> dict[str, Any]:
    """1.0 when the answer cites at least one gold item."""
    gold = set(_relevant(reference_outputs))
    return {"key": "citation_recall", "score": float(any(c in gold for c in _cited_items(outputs, item_of)))}


RETRIEVAL_EVALUATORS: list[Evaluator] = [recall_at(1), recall_at(5), recall_at(10), mrr, ndcg_at_10]
ANSWER_EVALUATORS: list[Evaluator] = [grounding, citation_precision, citation_recall]
