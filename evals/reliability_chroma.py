"""Chroma server stopped, restarted and frozen during a stream of questions.

A `chroma run` server (its own process group, loopback port) holds a tiny hash-encoded store; two
threads ask questions in a loop through `MultimodalRAG(chroma_url=...)` while the main thread
stops the server and starts it again on the same port and data folder (`restarts` times), then
freezes it once with SIGSTOP (a server that accepts connections and never answers) before
SIGCONT. Every question must end within a bound, either with an answer whose citations equal the
healthy answer's for that question, or with a clear error (`StoreError`, naming the server).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .reliability import CheckResult, Log
from .reliability_llm import env
from .reliability_store import HASH_ENCODERS, build_store

QUESTIONS = ["When does the ferry leave the pier?", "Which bakery sells cinnamon buns?", "a ferry horn sound",
             "a video of the whale skeleton", "ship models in the maritime museum"]
STORE_ENV = {"MMRAG_STORE_TIMEOUT": "2", "MMRAG_STORE_ATTEMPTS": "3", "MMRAG_STORE_BACKOFF": "0.3"}
QUESTION_BOUND_S = 30.0


def chroma(path: Path, port: int) -> Any:
    from mmrag.llm_server import ManagedServer

    exe = str(Path(sys.executable).parent / "chroma")
    cmd = [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    return ManagedServer(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", env={"ANONYMIZED_TELEMETRY": "False"},
                         start_timeout=90, name="chroma")


class Asker:
    """Threads asking questions in a loop; each question is bounded by a watchdog."""

    def __init__(self, url: str, expected: dict[str, list[str]], threads: int = 2) -> None:
        from mmrag.api import MultimodalRAG

        self.rag = MultimodalRAG(store="unused", chroma_url=url, encoders=HASH_ENCODERS, generator="extractive",
                                 decomposer="rules", max_hops=0)
        self.expected = expected
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.outcomes: list[tuple[str, str, float]] = []  # (kind, detail, seconds)
        self.inflight: dict[int, float] = {}
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(threads)]

    def _loop(self, i: int) -> None:
        from mmrag.stores.chroma_store import StoreError

        n = 0
        while not self.stop.is_set():
            q = QUESTIONS[(n + i) % len(QUESTIONS)]
            n += 1
            t0 = time.monotonic()
            with self.lock:
                self.inflight[i] = t0
            try:
                ans = self.rag.ask(q)
                got = sorted(c.source for c in ans.citations)
                kind, detail = ("ok", "") if got == self.expected[q] else ("wrong", f"{q!r}: {got} != {self.expected[q]}")
            except StoreError as exc:
                clear = "chroma" in str(exc).lower()
                kind, detail = ("clear_error" if clear else "unclear_error", str(exc)[:160])
            except Exception as exc:  # noqa: BLE001 - counted as a crash
                kind, detail = "crash", f"{type(exc).__name__}: {str(exc)[:160]}"
            secs = time.monotonic() - t0
            if secs > QUESTION_BOUND_S:
                kind, detail = "slow", f"{q!r} took {secs:.1f} s"
            with self.lock:
                self.inflight.pop(i, None)
                self.outcomes.append((kind, detail, secs))
            time.sleep(0.05)

    def hung(self) -> list[float]:
        now = time.monotonic()
        with self.lock:
            return [now - t for t in self.inflight.values() if now - t > QUESTION_BOUND_S]

    def count(self, since: int = 0) -> dict[str, int]:
        with self.lock:
            out: dict[str, int] = {}
            for kind, _, _ in self.outcomes[since:]:
                out[kind] = out.get(kind, 0) + 1
            return out


def _wait_for_answers(asker: Asker, n: int, timeout: float) -> bool:
    start = len(asker.outcomes)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asker.count(start).get("ok", 0) >= n:
            return True
        time.sleep(0.1)
    return False


def check_chroma_restart(work: Path, log: Log, restarts: int = 3, down_s: float = 3.0, freeze_s: float = 5.0) -> CheckResult:
    from mmrag.llm_server import free_port
    from mmrag.tools.retrieval import clear_store_cache

    t0 = time.monotonic()
    res = CheckResult(name=f"chroma server restart x{restarts} + freeze")
    port, data = free_port(), work / "chroma-data"
    url = f"http://127.0.0.1:{port}"
    srv = chroma(data, port).start()
    asker: Asker | None = None
    events: list[dict[str, Any]] = []
    try:
        with env(STORE_ENV):
            build_store(None, url=url)
            clear_store_cache()
            from mmrag.api import MultimodalRAG

            healthy = MultimodalRAG(store="unused", chroma_url=url, encoders=HASH_ENCODERS, generator="extractive",
                                    decomposer="rules", max_hops=0)
            expected = {q: sorted(c.source for c in healthy.ask(q).citations) for q in QUESTIONS}
            asker = Asker(url, expected)
            for t in asker.threads:
                t.start()
            _wait_for_answers(asker, 3, 60)
            faults = [("restart", i) for i in range(restarts)] + [("freeze", 0)]
            for what, _ in faults:
                mark = len(asker.outcomes)
                res.faults_injected += 1
                if what == "restart":
                    srv.stop(grace=5)
                    time.sleep(down_s)
                    srv = chroma(data, port).start()
                else:
                    assert srv.proc is not None
                    os.killpg(srv.proc.pid, signal.SIGSTOP)
                    time.sleep(freeze_s)
                    os.killpg(srv.proc.pid, signal.SIGCONT)
                recovered = _wait_for_answers(asker, 2, 60)
                during = asker.count(mark)
                bad = {k: v for k, v in during.items() if k not in ("ok", "clear_error")}
                hung = asker.hung()
                ok = recovered and not bad and not hung
                res.faults_survived += int(ok)
                events.append({"fault": what, "outcomes": during, "recovered": recovered, "hung": len(hung)})
                log(f"chroma {what}: {during}, recovered={recovered}")
                if not ok:
                    res.failures.append(f"{what}: outcomes {during}, recovered={recovered}, hung={len(hung)}")
    finally:
        if asker is not None:
            asker.stop.set()
            for t in asker.threads:
                t.join(QUESTION_BOUND_S)
        with contextlib.suppress(Exception):
            if srv.proc is not None:
                os.killpg(srv.proc.pid, signal.SIGCONT)
        srv.stop(grace=5)
        clear_store_cache()
    if asker is not None:
        res.crashes = asker.count().get("crash", 0)
        wrong = [d for k, d, _ in asker.outcomes if k in ("wrong", "unclear_error", "crash", "slow")]
        res.failures += wrong[:10]
        res.details = {"events": events, "totals": asker.count(), "questions": len(asker.outcomes),
                       "max_seconds": round(max((s for _, _, s in asker.outcomes), default=0.0), 2)}
    res.seconds = round(time.monotonic() - t0, 1)
    return res
