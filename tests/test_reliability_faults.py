"""LLM endpoint and Chroma server faults: the retry policy on its own, then the real graph against a
misbehaving OpenAI-compatible fake and a Chroma server that stops, restarts and freezes."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

from mmrag.graph.resilience import (
    EmptyReply,
    LLMUnavailable,
    RetryPolicy,
    RunawayReply,
    generate_text,
    is_retryable,
    with_retries,
)

FAST = RetryPolicy(timeout_s=1, attempts=3, deadline_s=5, backoff_s=0.5, max_chars=200)


class ScriptedModel:
    """`.stream()` yields the next scripted reply (a list of chunks) or raises the next error."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.calls = 0

    def stream(self, messages: Any) -> Any:
        self.calls += 1
        step = self.script.pop(0) if self.script else ["ok"]
        if isinstance(step, BaseException):
            raise step
        for piece in step:
            yield AIMessageChunk(content=piece)


def test_retries_with_growing_backoff_then_gives_up() -> None:
    pauses: list[float] = []
    model = ScriptedModel(TimeoutError("t1"), ConnectionError("c2"), TimeoutError("t3"), ["never reached"])
    with pytest.raises(LLMUnavailable, match="3 attempt"):
        generate_text(model, [], FAST, sleep=pauses.append)
    assert model.calls == 3 and len(pauses) == 2
    assert 0.25 <= pauses[0] <= 0.5 and 0.5 <= pauses[1] <= 1.0  # exponential with jitter


def test_recovers_after_transient_failures_and_empty_replies() -> None:
    model = ScriptedModel(TimeoutError("t"), [""], ["The answer ", "[1]."])
    assert generate_text(model, [], FAST, sleep=lambda s: None) == "The answer [1]."
    assert model.calls == 3


def test_runaway_stream_is_cut_and_not_retried() -> None:
    model = ScriptedModel(["word " * 10] * 100, ["fine"])
    with pytest.raises(LLMUnavailable, match="RunawayReply"):
        generate_text(model, [], FAST, sleep=lambda s: None)
    assert model.calls == 1


def test_validate_rejects_ungrounded_replies() -> None:
    def no_fake_markers(text: str) -> None:
        if "[img 99]" in text:
            raise EmptyReply("ungrounded")

    model = ScriptedModel(["see [img 99]"], ["see [1]"])
    assert generate_text(model, [], FAST, sleep=lambda s: None, validate=no_fake_markers) == "see [1]"


def test_deadline_bounds_all_attempts() -> None:
    policy = RetryPolicy(attempts=10, deadline_s=0.3, backoff_s=0.2)
    calls = []
    t0 = time.monotonic()
    with pytest.raises(LLMUnavailable):
        with_retries(lambda d: calls.append(1) or (_ for _ in ()).throw(TimeoutError("x")), policy)
    assert time.monotonic() - t0 < 1.0 and len(calls) < 10


def test_classification() -> None:
    import httpx
    import openai

    req = httpx.Request("POST", "http://x")
    assert is_retryable(openai.RateLimitError("r", response=httpx.Response(429, request=req), body=None))
    assert is_retryable(openai.InternalServerError("e", response=httpx.Response(503, request=req), body=None))
    assert not is_retryable(openai.BadRequestError("b", response=httpx.Response(400, request=req), body=None))
    assert not is_retryable(RunawayReply("x")) and not is_retryable(ValueError("x"))
    assert RetryPolicy().pause(10, random.Random(0)) <= RetryPolicy().max_backoff_s


@pytest.mark.integration
def test_graph_survives_every_llm_endpoint_fault(tmp_path: Path) -> None:
    from mmrag.evals.reliability_llm import FAULT_MODES, check_llm_faults

    res = check_llm_faults(tmp_path, lambda m: None)
    assert res.faults_injected == len(FAULT_MODES) >= 9
    assert res.failures == [] and res.crashes == 0
    assert res.faults_survived == res.faults_injected
    trials = {t["mode"]: t for t in res.details["trials"]}
    assert trials["500"]["requests"] == 3 and trials["500"]["extractive"]  # bounded retries, then extractive
    assert trials["500"]["gaps_s"][1] > trials["500"]["gaps_s"][0]  # backoff grows
    assert trials["flaky"]["extractive"] is False  # a retry succeeded


@pytest.mark.integration
@pytest.mark.slow
def test_chroma_server_restart_and_freeze_during_questions(tmp_path: Path) -> None:
    from mmrag.evals.reliability_chroma import check_chroma_restart

    res = check_chroma_restart(tmp_path, lambda m: None, restarts=1, down_s=3.0, freeze_s=4.0)
    assert res.faults_injected == 2
    assert res.failures == [], res.failures
    assert res.faults_survived == 2 and res.crashes == 0
    totals = res.details["totals"]
    assert totals.get("ok", 0) > 4 and set(totals) <= {"ok", "clear_error"}
    assert res.details["max_seconds"] < 30


def test_failure_message_carries_no_live_citation_marker() -> None:
    """The fallback note quotes the failure; a marker in it would survive citation checking."""
    from mmrag.graph.resilience import require_grounded

    model = ScriptedModel(["see [img 99]"], ["see [img 99]"], ["see [audio 2 at 0:10]"])
    with pytest.raises(LLMUnavailable) as err:
        generate_text(model, [], FAST, sleep=lambda s: None, validate=lambda t: require_grounded(t, []))
    assert "(img 99)" in str(err.value) and "[img 99]" not in str(err.value) and "[audio" not in str(err.value)
