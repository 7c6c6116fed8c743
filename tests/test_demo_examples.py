"""The runnable use cases under examples/: field service (audio + image query) and media library."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("fault,entity", [("bearing", "Pump P-100"), ("gear", "Engine E-5")])
def test_field_service_audio_plus_image_query(fault: str, entity: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    fs = _load("field_service")
    assert fs.main(["--work", str(tmp_path), "--encoders", "hash", "--fault", fault, "--json"]) == 0
    ans = json.loads(capsys.readouterr().out)
    subs = {(s["modality"], s.get("media")) for s in ans["sub_queries"]}
    assert ("image", "image") in subs and ("audio", "audio") in subs  # both query media were searched
    by_mod = {c["modality"]: c for c in ans["citations"]}
    assert by_mod["image"]["entity"] == entity and by_mod["audio"]["entity"] == entity
    assert entity in ans["answer"]


def test_field_service_query_differs_from_kb(tmp_path: Path) -> None:
    fs = _load("field_service")
    fs.build_kb(tmp_path / "kb")
    audio, image = fs.build_query(tmp_path / "q")
    assert audio.read_bytes() != (tmp_path / "kb/pump_p100/fault_recording.flac").read_bytes()
    assert image.read_bytes() != (tmp_path / "kb/pump_p100/bearing.jpg").read_bytes()


@pytest.mark.slow
def test_media_library_over_shared_data(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ml = _load("media_library")
    rc = ml.main(["--work", str(tmp_path), "--encoders", "hash", "--photos", "6", "--sounds", "6", "--videos", "0",
                  "--query", "a dog", "-k", "2"])
    out = capsys.readouterr().out
    assert rc == 0 and "12 files linked" in out and "0 issues" in out
    assert "photos like" in out and out.count("photos/") >= 2
    assert not any((tmp_path / "library").rglob("*.jpg")) or all(
        p.is_symlink() for p in (tmp_path / "library").rglob("*.jpg"))  # linked, never copied


def test_media_library_without_data_is_a_clean_no_op(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MMRAG_DATA", str(tmp_path / "absent"))
    ml = _load("media_library")
    assert ml.main(["--work", str(tmp_path)]) == 0
    assert "no evaluation data" in capsys.readouterr().err
