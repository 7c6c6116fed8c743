"""`mmrag eval reliability [--json] [--quick]`: faults, bad input and hostile content, counted.

Checks (each writes only under a temporary work folder, and cleans up):

- bad files: >= 50 broken files mixed with valid ones (`reliability_files`), ingested by a real
  `mmrag ingest` subprocess; each broken file must be reported with a reason, no crash, every
  valid file ingested.
- kills: SIGKILL `mmrag ingest` at random moments and rerun (`reliability_kill`); the store must
  equal a clean run's (same unit ids, no duplicates, no orphans).
- llm faults: the graph against a misbehaving OpenAI-compatible endpoint (`reliability_llm`).
- chroma restart: questions streamed while the Chroma server stops and restarts (`reliability_chroma`).
- hostile questions: >= 100 malformed or hostile questions (`reliability_hostile`).

The summary keys are `faults_injected`, `faults_survived`, `bad_files_tried`, `bad_files_reported`,
`crashes`, `hostile_questions_tried`, `hostile_questions_handled`, `items_lost`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field

from .reliability_files import make_corpus

Log = Callable[[str], None]


class Counts(BaseModel):
    """The report's counters: one check's, or summed over every check."""

    faults_injected: int = 0
    faults_survived: int = 0
    bad_files_tried: int = 0
    bad_files_reported: int = 0
    crashes: int = 0
    hostile_questions_tried: int = 0
    hostile_questions_handled: int = 0
    items_lost: int = 0


class CheckResult(Counts):
    name: str
    seconds: float = 0.0
    failures: list[str] = Field(default_factory=list, description="What went wrong, one line each.")
    details: dict[str, Any] = Field(default_factory=dict)


class ReliabilityReport(Counts):
    checks: list[CheckResult] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.crashes and not self.items_lost and self.faults_survived == self.faults_injected
                and self.bad_files_reported == self.bad_files_tried
                and self.hostile_questions_handled == self.hostile_questions_tried
                and not any(c.failures for c in self.checks))

    def add(self, check: CheckResult) -> None:
        self.checks.append(check)
        for key in Counts.model_fields:
            setattr(self, key, getattr(self, key) + getattr(check, key))

    def summary(self) -> dict[str, Any]:
        return self.model_dump(exclude={"checks"}) | {"ok": self.ok}

    def text(self) -> str:
        lines = [
            f"faults injected / survived:        {self.faults_injected} / {self.faults_survived}",
            f"bad files tried / reported / crashed: {self.bad_files_tried} / {self.bad_files_reported} / {self.crashes}",
            f"hostile questions tried / handled: {self.hostile_questions_tried} / {self.hostile_questions_handled}",
            f"items lost:                        {self.items_lost}",
            "",
        ]
        for c in self.checks:
            lines.append(f"- {c.name} ({c.seconds:.0f} s): " + (", ".join(c.failures[:5]) if c.failures else "ok"))
        lines.append("RESULT: " + ("nothing lost, nothing crashed" if self.ok else "FAILURES above"))
        return "\n".join(lines)


def ingest_json(corpus: Path, store: Path, extra: list[str], timeout: float = 600) -> tuple[int, dict[str, Any] | None, str]:
    """Run `mmrag ingest --json` as a subprocess: (exit code, the report or None, output tail)."""
    from .reliability_kill import HASH_ENCODERS, _env

    cmd = [sys.executable, "-m", "mmrag.cli", "ingest", str(corpus), "--store", str(store), "--encoders",
           HASH_ENCODERS, "--json", "-q", *extra]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())
    except subprocess.TimeoutExpired:
        return -9, None, f"ingestion hung for more than {timeout:.0f} s"
    try:
        start = p.stdout.index("{")
        report = json.loads(p.stdout[start:])
    except ValueError:
        report = None
    return p.returncode, report, (p.stdout + p.stderr)[-3000:]


def check_bad_files(work: Path, log: Log) -> CheckResult:
    """Broken files beside valid ones: each broken one reported, no crash, every valid one ingested."""
    from .reliability_kill import snapshot

    t0 = time.monotonic()
    corpus = work / "bad-corpus"
    files = make_corpus(corpus)
    bad = [f for f in files if f.expect == "bad"]
    valid = [f for f in files if f.expect == "valid"]
    # small limits so that the bombs are caught fast; all three are configurable
    extra = ["--max-audio-seconds", "600", "--max-pixels", "40000000", "--max-file-bytes", str(1 << 30), "--no-transcripts"]
    rc, report, out = ingest_json(corpus, work / "bad-store", extra)
    res = CheckResult(name="bad files", bad_files_tried=len(bad))
    if rc != 0 or report is None:
        res.crashes = len(bad)
        res.failures.append(f"ingestion exited {rc}: {out[-400:]}")
        res.items_lost = len(valid)
        return res
    reasons = {str(i["path"]): str(i.get("reason") or "") for i in report.get("issues", [])}
    records = snapshot(work / "bad-store").records
    for f in bad:
        if reasons.get(f.source, "").strip():
            res.bad_files_reported += 1
        else:
            res.failures.append(f"not reported: {f.source} ({f.what})")
    for f in valid:
        if f.source not in records:
            res.items_lost += 1
            res.failures.append(f"valid file not ingested: {f.source} ({f.what})")
    res.details = {"valid_files": len(valid), "valid_ingested": len(valid) - res.items_lost,
                   "reasons": {f.source: reasons.get(f.source, "")[:160] for f in bad}}
    res.seconds = round(time.monotonic() - t0, 1)
    log(f"bad files: {res.bad_files_reported}/{len(bad)} reported, {len(valid) - res.items_lost}/{len(valid)} valid ingested")
    return res


def check_kills(work: Path, log: Log, kills: int) -> CheckResult:
    from .reliability_kill import kill_test

    t0 = time.monotonic()
    kr = kill_test(work / "kills", kills=kills, log=log)
    res = CheckResult(name=f"ingestion SIGKILL x{kills}", faults_injected=sum(t.killed for t in kr.trials),
                      faults_survived=sum(t.killed and t.same_as_clean for t in kr.trials), items_lost=kr.items_lost)
    res.failures = [f"kill at {t.kill_at} s: {'; '.join(t.problems)}" for t in kr.trials if not t.same_as_clean]
    res.details = kr.model_dump() | {"mid_write_kills": kr.mid_write}
    res.seconds = round(time.monotonic() - t0, 1)
    return res


CHECKS = ("bad_files", "kills", "llm", "chroma", "hostile")


def run_reliability(quick: bool = False, checks: tuple[str, ...] = CHECKS, kills: int | None = None,
                    workdir: Path | None = None, log: Log | None = None) -> ReliabilityReport:
    """Run the checks; `quick` uses 2 kills instead of 20 and fewer chroma restarts."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    report = ReliabilityReport()
    with tempfile.TemporaryDirectory(prefix="mmrag-reliability-", dir=workdir) as tmp:
        work = Path(tmp)
        for name in checks:
            if name not in CHECKS:
                raise ValueError(f"unknown check {name!r}; choose from {', '.join(CHECKS)}")
            t0 = time.monotonic()
            try:
                if name == "bad_files":
                    res = check_bad_files(work, say)
                elif name == "kills":
                    res = check_kills(work, say, kills if kills is not None else (2 if quick else 20))
                elif name == "llm":
                    from .reliability_llm import check_llm_faults

                    res = check_llm_faults(work, say)
                elif name == "chroma":
                    from .reliability_chroma import check_chroma_restart

                    res = check_chroma_restart(work, say, restarts=1 if quick else 3)
                else:
                    from .reliability_hostile import check_hostile_questions

                    res = check_hostile_questions(work, say)
            except Exception as exc:  # noqa: BLE001 - a harness failure is reported, not hidden
                res = CheckResult(name=name, crashes=1, failures=[f"the check itself failed: {type(exc).__name__}: {exc}"])
            res.seconds = res.seconds or round(time.monotonic() - t0, 1)
            report.add(res)
    return report


def register_reliability(sub: Any) -> None:
    """Adds `reliability` to `mmrag eval`."""
    sp = sub.add_parser("reliability", help="faults, bad files and hostile questions, counted")
    sp.add_argument("--json", action="store_true", help="print the JSON report")
    sp.add_argument("--quick", action="store_true", help="2 ingestion kills instead of 20, one chroma restart")
    sp.add_argument("--kills", type=int, default=None, help="number of SIGKILL trials (default 20, 2 with --quick)")
    sp.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(CHECKS)}")
    sp.set_defaults(func=_cmd)


def _cmd(args: Any) -> int:
    from mmrag.errors import UserError

    checks = tuple(c.strip() for c in args.only.split(",")) if args.only else CHECKS
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise UserError(f"unknown checks {sorted(unknown)}; choose from {', '.join(CHECKS)}")
    report = run_reliability(quick=args.quick, checks=checks, kills=args.kills)
    if args.json:
        print(json.dumps(report.summary() | {"checks": [c.model_dump() for c in report.checks]}, indent=2))
    else:
        print(report.text())
    return 0 if report.ok else 1
