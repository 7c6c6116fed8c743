"""Hostile and malformed questions: validation on its own, the 100+ case check through the API and
tools, and the `mmrag eval reliability` report (quick mode, as the tests run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmrag.errors import UserError
from mmrag.evals.reliability_files import jpeg_bytes, png_header, write_sparse_wav
from mmrag.validation import check_audio_file, check_dataclass_fields, check_image_file, clean_question, finite

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", "\u200b\u200e", "?!...", None])
def test_questions_without_words_are_a_clear_error(bad: object) -> None:
    with pytest.raises(UserError, match="question"):
        clean_question(bad)
    assert clean_question(bad, allow_empty=True) == ""


@pytest.mark.parametrize("bad", [42, b"bytes", ["a"], {"q": 1}, "x" * 8001, "ok \ud800 no"])
def test_wrong_types_long_and_invalid_unicode_are_refused(bad: object) -> None:
    with pytest.raises(UserError):
        clean_question(bad)


def test_clean_question_keeps_every_script_and_drops_controls() -> None:
    assert clean_question("\u6e21\u8f6e\u4ec0\u4e48\u65f6\u5019") == "\u6e21\u8f6e\u4ec0\u4e48\u65f6\u5019"
    assert clean_question("\U0001f6a2 ?") == "\U0001f6a2 ?"
    assert clean_question("\x1b[31mferry\x1b[0m\u202e pier\x00") == "[31mferry [0m pier"
    assert clean_question("a\r\nb") == "a b"


def test_query_media_files_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes())
    assert check_image_file(good) == good
    cases = {"text.jpg": b"words", "empty.jpg": b"", "bomb.png": png_header(50_000, 50_000)}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UserError):
            check_image_file(tmp_path / name)
    for path in (tmp_path, tmp_path / "missing.jpg", Path("/dev/zero")):
        with pytest.raises(UserError):
            check_image_file(path)
    write_sparse_wav(tmp_path / "long.wav", hours=1.0)
    with pytest.raises(UserError, match="limit"):
        check_audio_file(tmp_path / "long.wav")
    with pytest.raises(UserError):
        check_audio_file(good)


def test_settings_and_numbers() -> None:
    from mmrag.graph.context import Context

    with pytest.raises(UserError, match="k="):
        Context(k="many")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="finite"):
        Context(confidence_threshold=float("nan"))
    assert Context(k="3").k == 3  # type: ignore[arg-type]
    with pytest.raises(UserError):
        finite("inf", "x")
    ctx = Context()
    ctx.weights = {"text": "heavy"}  # type: ignore[dict-item]
    with pytest.raises(UserError, match="weights"):
        check_dataclass_fields(ctx)


@pytest.mark.integration
def test_hostile_questions_each_get_a_clear_error_or_a_safe_answer(tmp_path: Path) -> None:
    from mmrag.evals.reliability_hostile import check_hostile_questions

    res = check_hostile_questions(tmp_path, lambda m: None)
    assert res.hostile_questions_tried >= 100
    assert res.failures == [], res.failures[:10]
    assert res.hostile_questions_handled == res.hostile_questions_tried and res.crashes == 0
    outcomes = res.details["outcomes"]
    assert outcomes["question: chinese"] == "safe answer"  # other scripts are answered, not refused
    assert outcomes["question: 1 MB"].startswith("clear error")
    assert outcomes["--image /dev/zero"].startswith("clear error")


@pytest.mark.integration
def test_eval_reliability_report_json(tmp_path: Path) -> None:
    """The report command itself, its JSON keys and figures (the hostile-questions check only: the
    other checks have their own tests above and in test_reliability_ingest/_faults.py)."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    p = subprocess.run([sys.executable, "-m", "mmrag.cli", "eval", "reliability", "--quick", "--json",
                        "--only", "hostile"], capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert p.returncode == 0, p.stderr[-2000:]
    report = json.loads(p.stdout)
    keys = ["faults_injected", "faults_survived", "bad_files_tried", "bad_files_reported", "crashes",
            "hostile_questions_tried", "hostile_questions_handled", "items_lost"]
    assert all(isinstance(report[k], int) for k in keys)
    assert report["hostile_questions_tried"] >= 100 and report["hostile_questions_handled"] == report["hostile_questions_tried"]
    assert report["crashes"] == 0 and report["items_lost"] == 0 and report["ok"] is True
    assert [c["name"] for c in report["checks"]] == ["hostile questions"]


def test_eval_reliability_rejects_unknown_checks() -> None:
    from mmrag.cli import main

    with pytest.raises(UserError, match="unknown checks"):
        from mmrag.evals.reliability import _cmd

        _cmd(type("A", (), {"only": "bad_files,nope", "quick": True, "kills": None, "json": True})())
    assert main(["eval", "reliability", "--only", "nope"]) == 2
