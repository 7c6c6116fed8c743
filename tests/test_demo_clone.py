"""The README's main command, `mmrag demo --json`, from a clean clone of this repository.

The clone gets its own virtual environment whose only addition is the clone itself (editable, no
dependencies); the dependencies come from the current environment through a .pth path entry, so
nothing is downloaded and the code and data under test are exactly what is committed.
Real encoders, OCR and Whisper run; the answer's citations are checked against the built store.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKERS = {"image": re.compile(r"^\[img \d+\]$"), "audio": re.compile(r"^\[audio \d+ at \d+:\d\d\]$"),
           "text": re.compile(r"^\[\d+\]$"), "video": re.compile(r"^\[video \d+ at \d+:\d\d\]$")}


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - t0


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    root = tmp_path_factory.mktemp("clean-clone")
    src, venv = root / "mmrag", root / "venv"
    subprocess.run(["git", "clone", "-q", str(REPO), str(src)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "mmrag_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(src)],
                   check=True, timeout=300)
    return src, venv


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MMRAG_", "OPENAI_", "PYTHON"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", LANGSMITH_TRACING="false")
    return env


def _store_ids(store: Path) -> set[str]:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(store), settings=Settings(anonymized_telemetry=False))
    ids: set[str] = set()
    for c in client.list_collections():
        name = c.name if hasattr(c, "name") else str(c)
        if name != "mmrag-files":
            ids.update(client.get_collection(name).get(include=[])["ids"])
    return ids


@pytest.mark.integration
@pytest.mark.slow
def test_readme_demo_from_clean_clone(clone: tuple[Path, Path], tmp_path: Path) -> None:
    src, venv = clone
    assert "mmrag demo" in (src / "README.md").read_text()
    store = tmp_path / "demo-store"
    mmrag = str(venv / "bin" / "mmrag")
    proc, first_s = _run([mmrag, "demo", "--json", "--store", str(store)], src, _env(), timeout=900)
    print(f"first run (builds the store): {first_s:.1f} s\n{proc.stdout}\n{proc.stderr[-2000:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer = json.loads(proc.stdout)

    cites = answer["citations"]
    ids = _store_ids(store)
    places = src / "examples" / "city_guide" / "places"
    for c in cites:  # each cites a real retrieved item, with a well-formed marker
        assert c["id"] in ids, c
        assert (places / c["source"]).is_file(), c
        assert MARKERS[c["modality"]].match(c["marker"]), c
        assert c["marker"] in answer["answer"], c
    mods = {c["modality"] for c in cites}
    assert "image" in mods and "audio" in mods, f"citations by modality: {sorted(mods)}"
    assert not answer["invalid_citations"]

    proc2, second_s = _run([mmrag, "demo", "--store", str(store)], src, _env(), timeout=300)
    print(f"second run (store built): {second_s:.1f} s\n{proc2.stdout}")
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    assert "already built" in proc2.stdout and "Places by composite score" in proc2.stdout
    assert second_s < 60
