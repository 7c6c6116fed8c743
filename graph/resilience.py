"""Bounded calls to a chat endpoint: per-attempt timeouts, retries with backoff, a total deadline,
and a cap on what a stream may produce.

`generate_text(model, messages)` streams a reply and returns its text, or raises `LLMUnavailable`
after the policy's attempts; the generator node then answers extractively and says so. Retried:
timeouts, connection errors, HTTP 429 and 5xx, empty replies, and replies rejected by `validate`
(`require_grounded`: every citation points at evidence that does not exist). Not retried: a stream that
exceeds `max_chars` or the deadline without finishing (an endless stream), and client errors.

The policy comes from the environment (so that every entry point, the CLI, the API and
`langgraph dev`, shares it): `MMRAG_LLM_TIMEOUT` (seconds per attempt, 60), `MMRAG_LLM_ATTEMPTS`
(3), `MMRAG_LLM_DEADLINE` (seconds for all attempts of one answer, 150), `MMRAG_LLM_BACKOFF`
(first pause, seconds, 0.5; doubled each retry, jittered, at most 8), `MMRAG_LLM_MAX_CHARS` (20000).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from mmrag.errors import ServiceUnavailable


class LLMUnavailable(ServiceUnavailable):
    """The chat endpoint gave no usable reply within the policy's attempts and deadline."""


class EmptyReply(RuntimeError):
    """The endpoint answered with no text."""


class RunawayReply(RuntimeError):
    """A stream that did not finish within the size or time bound."""


class UngroundedReply(RuntimeError):
    """A reply whose every citation points at evidence that does not exist."""


def require_grounded(text: str, evidence: Sequence[Any]) -> None:
    """Raise UngroundedReply when `text` cites only markers that match no evidence item."""
    from mmrag.graph.citations import check_citations

    _, valid, invalid = check_citations(text, evidence)
    if invalid and not valid:
        raise UngroundedReply(f"the reply cites only sources that do not exist: {' '.join(invalid[:5])}")


@dataclass(frozen=True)
class RetryPolicy:
    timeout_s: float = 60.0
    attempts: int = 3
    deadline_s: float = 150.0
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_chars: int = 20_000

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        def num(name: str, default: float) -> float:
            raw = os.environ.get(name)
            try:
                return float(raw) if raw else default
            except ValueError:
                return default

        d = cls()
        return cls(
            timeout_s=max(0.1, num("MMRAG_LLM_TIMEOUT", d.timeout_s)),
            attempts=max(1, int(num("MMRAG_LLM_ATTEMPTS", d.attempts))),
            deadline_s=max(0.1, num("MMRAG_LLM_DEADLINE", d.deadline_s)),
            backoff_s=max(0.0, num("MMRAG_LLM_BACKOFF", d.backoff_s)),
            max_chars=max(100, int(num("MMRAG_LLM_MAX_CHARS", d.max_chars))),
        )

    def pause(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): exponential, jittered
        within the top quarter, so each pause is at least 1.5x the one before (below the cap)."""
        base = min(self.max_backoff_s, self.backoff_s * (2 ** (attempt - 1)))
        return base * (0.75 + (rng or random).random() / 4)


def is_retryable(exc: BaseException) -> bool:
    """Transient failures worth another attempt."""
    if isinstance(exc, (EmptyReply, UngroundedReply, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, RunawayReply):
        return False
    try:
        import openai

        if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                            openai.InternalServerError)):
            return True
        if isinstance(exc, openai.APIStatusError):
            return exc.status_code >= 500 or exc.status_code in (408, 409, 429)
    except ImportError:  # pragma: no cover - langchain-openai depends on openai
        pass
    try:
        import httpx

        if isinstance(exc, (httpx.TimeoutException, httpx.TransportError)):
            return True
    except ImportError:  # pragma: no cover
        pass
    name = type(exc).__name__
    return "Timeout" in name or "Connection" in name


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return ""


def stream_once(model: Any, messages: Sequence[Any], policy: RetryPolicy, deadline: float) -> str:
    """One attempt: stream the reply, stopping at `deadline` or `max_chars` (RunawayReply)."""
    parts: list[str] = []
    size = 0
    stream = model.stream(list(messages))
    try:
        for chunk in stream:
            piece = _text_of(getattr(chunk, "content", chunk))
            parts.append(piece)
            size += len(piece)
            if size > policy.max_chars:
                raise RunawayReply(f"the reply exceeded {policy.max_chars} characters without finishing")
            if time.monotonic() > deadline:
                raise RunawayReply(f"the reply was still streaming after {policy.deadline_s:.0f} s")
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()  # drops the HTTP connection of an unfinished stream
    text = "".join(parts).strip()
    if not text:
        raise EmptyReply("the model returned an empty reply")
    return text


def with_retries(call: Callable[[float], str], policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> str:
    """`call(deadline)` until it succeeds, a non-retryable error, the attempts or the deadline run out."""
    policy = policy or RetryPolicy.from_env()
    deadline = time.monotonic() + policy.deadline_s
    errors: list[str] = []
    for attempt in range(1, policy.attempts + 1):
        try:
            return call(deadline)
        except Exception as exc:  # noqa: BLE001 - classified below
            errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            if not is_retryable(exc) or attempt == policy.attempts:
                break
            wait = policy.pause(attempt, rng)
            if time.monotonic() + wait >= deadline:
                errors.append("deadline reached")
                break
            sleep(wait)
    from mmrag.graph.evidence_guard import defang  # the message may reach the answer: no live markers in it

    raise LLMUnavailable(defang(f"no usable reply after {len(errors)} attempt(s): " + " | ".join(errors)) or "")


def generate_text(model: Any, messages: Sequence[Any], policy: RetryPolicy | None = None,
                  sleep: Callable[[float], None] = time.sleep, validate: Callable[[str], None] | None = None) -> str:
    """The model's reply to `messages`, bounded by the policy; raises LLMUnavailable. `validate`
    may reject a reply (e.g. `require_grounded`) by raising; a rejected reply counts as a failed attempt."""
    policy = policy or RetryPolicy.from_env()

    def attempt(deadline: float) -> str:
        text = stream_once(model, messages, policy, deadline)
        if validate:
            validate(text)
        return text

    return with_retries(attempt, policy, sleep)
