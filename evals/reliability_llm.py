"""LLM endpoint faults: the graph answers through `FakeLLM` in every failure mode.

For each mode the question must come back (no exception) within the policy's bound, every marker
left in the answer must be a checked citation of retrieved evidence, and when the endpoint gave no
usable reply the answer must be the extractive one, flagged as such (`extractive=True`, the
"Extractive answer" heading and a note that the language model failed). Retries are counted from
the requests the fake received, and their spacing shows the backoff.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, Field

from .fake_llm import FakeLLM
from .reliability import CheckResult, Log
from .reliability_store import DOCS, HASH_ENCODERS, build_store

# mode -> must the answer fall back to the extractive one?
FAULT_MODES: dict[str, bool] = {
    "timeout": True, "500": True, "429": True, "disconnect": True, "empty": True, "endless": True,
    "bad_citations": True, "invalid_json": False, "flaky": False,
}
POLICY_ENV = {"MMRAG_LLM_TIMEOUT": "2", "MMRAG_LLM_ATTEMPTS": "3", "MMRAG_LLM_DEADLINE": "6",
              "MMRAG_LLM_BACKOFF": "0.2", "MMRAG_LLM_MAX_CHARS": "4000"}
BOUND_S = 2 + 6 + 17  # decomposer timeout + generation deadline + slack (imports, a loaded CPU)
GOOD_REPLY = "The harbour ferry leaves the north pier at seven every morning [1]."
MARKER = re.compile(r"\[(?:(?:img|image|audio|video)\s+)?\d+(?:\s+at\s+[\d:]+)?\]", re.I)


class FaultTrial(BaseModel):
    mode: str
    seconds: float
    requests: int
    extractive: bool
    decomposer: str = ""
    crashed: bool = False
    problems: list[str] = Field(default_factory=list)
    gaps_s: list[float] = Field(default_factory=list, description="Seconds between successive generation requests.")


@contextmanager
def env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def answer_problems(ans: Any, sources: set[str]) -> list[str]:
    """Markers in the text that are not checked citations, and citations of unknown sources."""
    problems = []
    cited = {c.marker for c in ans.citations}
    for m in MARKER.findall(ans.text):
        if m not in cited:
            problems.append(f"unchecked marker {m} in the answer")
    for c in ans.citations:
        if c.source not in sources:
            problems.append(f"citation {c.marker} of unknown source {c.source}")
    return problems


def run_mode(store_dir: Path, mode: str, question: str = "When does the ferry leave the pier?") -> FaultTrial:
    from mmrag.api import MultimodalRAG

    must_fallback = FAULT_MODES[mode]
    with FakeLLM(mode=mode, reply=GOOD_REPLY, hang_s=30.0) as fake:
        rag = MultimodalRAG(store=str(store_dir), encoders=HASH_ENCODERS, llm_base_url=fake.base_url,
                            llm_model="fake", llm_api_key="x", max_hops=0, generator="llm", decomposer="llm")
        t0 = time.monotonic()
        try:
            ans = rag.ask(question)
        except Exception as exc:  # noqa: BLE001 - a crash is what this counts
            return FaultTrial(mode=mode, seconds=time.monotonic() - t0, requests=len(fake.chat_requests),
                              extractive=False, crashed=True, problems=[f"crashed: {type(exc).__name__}: {exc}"[:300]])
        secs = time.monotonic() - t0
        gen = [r for r in fake.chat_requests if not (r["body"].get("tools") or r["body"].get("response_format"))]
        gaps = [round(b["t"] - a["t"], 2) for a, b in zip(gen, gen[1:])]
    trial = FaultTrial(mode=mode, seconds=round(secs, 2), requests=len(gen), extractive=ans.extractive,
                       decomposer=ans.decomposer[:80], gaps_s=gaps)
    trial.problems += answer_problems(ans, {d.source for d in DOCS})
    if secs > BOUND_S:
        trial.problems.append(f"took {secs:.1f} s, over the {BOUND_S} s bound")
    if must_fallback:
        if not ans.extractive or "Extractive answer" not in ans.text or "language model failed" not in ans.text:
            trial.problems.append("no flagged extractive fallback")
        if mode not in ("endless",) and len(gen) < 2:
            trial.problems.append(f"no retry ({len(gen)} generation request(s))")
        if len(gen) > int(POLICY_ENV["MMRAG_LLM_ATTEMPTS"]):
            trial.problems.append(f"unbounded retries: {len(gen)} generation requests")
    else:
        if ans.extractive:
            trial.problems.append("fell back although the endpoint recovered")
        if not ans.citations:
            trial.problems.append("the recovered answer has no citation")
    return trial


def check_llm_faults(work: Path, log: Log) -> CheckResult:
    t0 = time.monotonic()
    store_dir = work / "llm-store"
    build_store(store_dir)
    res = CheckResult(name="LLM endpoint faults")
    trials = []
    with env(POLICY_ENV):
        for mode in FAULT_MODES:
            trial = run_mode(store_dir, mode)
            trials.append(trial)
            res.faults_injected += 1
            res.crashes += int(trial.crashed)
            if not trial.problems:
                res.faults_survived += 1
            res.failures += [f"{mode}: {p}" for p in trial.problems]
            log(f"llm fault {mode}: {trial.seconds:.1f} s, {trial.requests} generation request(s), "
                f"extractive={trial.extractive} {'ok' if not trial.problems else trial.problems}")
    res.details = {"policy": POLICY_ENV, "trials": [t.model_dump() for t in trials]}
    res.seconds = round(time.monotonic() - t0, 1)
    return res
