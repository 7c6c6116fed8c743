"""Reads from a Chroma server that may stop, restart or freeze: bounded time, retries, clear errors.

chromadb's HttpClient waits forever by default (`httpx.Client(timeout=None)`), so a frozen
server would hang every question. `bound_http_timeout(client)` gives its session a timeout, and
`store_call(fn, store)` retries a read that failed because the server was unreachable (connection
refused or reset, timeout) with backoff, then raises `StoreUnavailable` naming the server.
Because `VectorStore.collection()` treats any lookup failure as "no such collection", an empty
result from a server store is confirmed with a heartbeat, so an outage never passes for "nothing
found". Environment: `MMRAG_STORE_TIMEOUT` (seconds per request, 30), `MMRAG_STORE_ATTEMPTS` (3),
`MMRAG_STORE_BACKOFF` (first pause, 0.5 s, doubled each retry).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, TypeVar

from mmrag.errors import ServiceUnavailable

from .chroma_store import StoreError

T = TypeVar("T")


class StoreUnavailable(StoreError, ServiceUnavailable):
    """The Chroma server did not answer within the retries."""


def _env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


def bound_http_timeout(client: Any, seconds: float | None = None) -> None:
    """Give an HttpClient's session a finite timeout (no effect on an embedded client)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        t = seconds if seconds is not None else _env("MMRAG_STORE_TIMEOUT", 30.0)
        session.timeout = httpx.Timeout(t, connect=min(t, 5.0))


def is_unreachable(exc: BaseException) -> bool:
    """The server could not be reached or did not answer (not: a bad request)."""
    import httpx

    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError, StoreUnavailable)):
        return True
    text = str(exc).lower()
    return any(s in text for s in ("connection refused", "could not connect", "connection reset", "server disconnected"))


def _empty(result: Any) -> bool:
    return isinstance(result, list) and all(isinstance(r, list) and not r for r in result)


def store_call(fn: Callable[[], T], store: Any, sleep: Callable[[float], None] = time.sleep) -> T:
    """`fn()` (a read from `store`), retried while a server store is unreachable."""
    url = getattr(store, "url", None)
    if not url:
        return fn()
    attempts = max(1, int(_env("MMRAG_STORE_ATTEMPTS", 3)))
    backoff = max(0.0, _env("MMRAG_STORE_BACKOFF", 0.5))
    t0 = time.monotonic()
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            result = fn()
            if _empty(result):
                store.client.heartbeat()  # "nothing found" or "server gone"? raises if gone
            return result
        except Exception as exc:  # noqa: BLE001 - classified
            if not is_unreachable(exc):
                raise
            last = exc
            if attempt < attempts:
                sleep(backoff * 2 ** (attempt - 1))
    raise StoreUnavailable(
        f"the Chroma server at {url} is unreachable ({type(last).__name__}: {str(last)[:120]}); "
        f"tried {attempts} times over {time.monotonic() - t0:.1f} s"
    ) from last


def connect(path: Any, url: str | None, sleep: Callable[[float], None] = time.sleep) -> Any:
    """`make_client(path, url)`; for a server: retried while unreachable, with a bounded timeout."""
    from .chroma_store import make_client

    if not url:
        return make_client(path, url)

    def make() -> Any:
        try:
            return make_client(path, url)
        except ValueError as exc:  # chromadb: "Could not connect to a Chroma server"
            if "connect" in str(exc).lower():
                raise ConnectionError(str(exc)) from exc
            raise

    probe = type("Probe", (), {"url": url})()  # store_call only needs .url for a server
    client = store_call(make, probe, sleep=sleep)
    bound_http_timeout(client)
    return client
