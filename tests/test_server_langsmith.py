"""LangSmith tracing against a local stand-in of the LangSmith API that records the uploads
(issue 6): the run tree, its metadata, and a bound on payload size with images in the question."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from servers import LangSmithRecorder

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
DRIVER = Path(__file__).with_name("trace_driver.py")
NODES = {"decompose", "retrieve", "fuse", "check_confidence", "generate"}


def noise_png(side: int = 400) -> str:
    """An incompressible PNG as base64 (~640 KB for 400x400)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def run_traced(rec: LangSmithRecorder, store: Path, tmp: Path, b64: str, **env: str) -> dict[str, Any]:
    (tmp / "img.b64").write_text(b64)
    full_env = {
        **os.environ,
        "LANGSMITH_TRACING": "true",
        "LANGSMITH_ENDPOINT": rec.url,
        "LANGSMITH_API_KEY": "lsv2-dummy-key",
        "LANGSMITH_PROJECT": "mmrag-test",
        **env,
    }
    full_env.pop("LANGCHAIN_TRACING_V2", None)
    proc = subprocess.run(
        [sys.executable, str(DRIVER), str(store), str(tmp / "img.b64"), str(tmp / "out.json")],
        env=full_env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp / "out.json").read_text())


def by_name(runs: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in runs.values():
        out.setdefault(r.get("name", "?"), []).append(r)
    return out


def meta(run: dict[str, Any]) -> dict[str, Any]:
    return (run.get("extra") or {}).get("metadata") or {}


@pytest.mark.parametrize("multipart", [True, False], ids=["runs-multipart", "runs-batch"])
def test_trace_tree_metadata_and_payload_bound(tiny_store_dir: Path, tmp_path: Path, multipart: bool) -> None:
    b64 = noise_png()
    with LangSmithRecorder(multipart=multipart) as rec:
        result = run_traced(rec, tiny_store_dir, tmp_path, b64)
        rec.wait_for(lambda r: "generate" in by_name(r.runs()), timeout=20)
    assert "/info" in rec.paths()
    assert ("/runs/multipart" if multipart else "/runs/batch") in rec.paths()
    runs = rec.runs()
    names = by_name(runs)
    assert NODES <= set(names), sorted(names)

    # one trace, one root (the compiled graph, named mmrag); nodes hang under it
    roots = [r for r in runs.values() if not r.get("parent_run_id")]
    assert [r["name"] for r in roots] == ["mmrag"]
    root_id = roots[0]["id"]
    assert {str(r.get("trace_id")) for r in runs.values()} == {root_id}
    for node in NODES:
        for r in names[node]:
            assert str(r["parent_run_id"]) == root_id, node
            assert "mmrag" in r["tags"] and f"mmrag:{node}" in r["tags"]
            assert meta(r)["mmrag.node"] == node
    assert len(names["retrieve"]) >= 2, "one retrieve branch per modality (Send)"

    # metadata carries what the graph decided
    d = meta(names["decompose"][0])
    assert d["mmrag.sub_queries"] and all("modality" in sq for sq in d["mmrag.sub_queries"])
    assert [sq["modality"] for sq in d["mmrag.sub_queries"]] == [sq["modality"] for sq in result["sub_queries"] if sq.get("hop", 0) == 0]
    assert d["mmrag.dominant"] in ("text", "image", "audio", "video")
    modalities = {meta(r)["mmrag.modality"] for r in names["retrieve"]}
    assert {"image", "audio"} <= modalities
    for r in names["retrieve"]:
        m = meta(r)
        for hits in m.get("mmrag.hits", {}).values():
            assert all(isinstance(h[0], str) and -1.0 <= h[1] <= 1.0 for h in hits)
    f = meta(names["fuse"][0])
    assert f["mmrag.fusion"]["strategy"] == "rrf"
    assert f["mmrag.fused"]
    last_check = max(names["check_confidence"], key=lambda r: r["start_time"])
    c = meta(last_check)
    assert c["mmrag.confidence"] == pytest.approx(result["confidence"], abs=1e-6)
    assert "mmrag.threshold" in c and "mmrag.confidence_parts" in c
    g = meta(names["generate"][0])
    assert [x["marker"] for x in g["mmrag.citations"]] == [x["marker"] for x in result["citations"]]
    assert g["mmrag.hop"] == result["hops"]

    # media never bloats the trace: the base64 image is replaced by a reference everywhere
    blob = json.dumps(runs)
    assert b64[1000:1100] not in blob
    assert "<base64 image/png" in blob
    sent = rec.upload_bytes()
    print(f"\ntrace ({'multipart' if multipart else 'batch'}): {len(runs)} runs, {sent} bytes uploaded, image {len(b64)} b64 chars")
    for r in sorted(runs.values(), key=lambda r: r["start_time"]):
        keys = sorted(k for k in meta(r) if k.startswith("mmrag."))
        parent = runs.get(str(r.get("parent_run_id")), {}).get("name", "-")
        print(f"  {r['name']:<22} parent={parent:<17} {', '.join(keys)}")
    assert sent < 250_000 < len(b64), (sent, len(b64))


def test_trace_without_redaction_is_large(tiny_store_dir: Path, tmp_path: Path) -> None:
    """The control: with MMRAG_TRACE_MEDIA=keep the same run uploads the image (many times)."""
    b64 = noise_png()
    with LangSmithRecorder() as rec:
        run_traced(rec, tiny_store_dir, tmp_path, b64, MMRAG_TRACE_MEDIA="keep")
        rec.wait_for(lambda r: "generate" in by_name(r.runs()), timeout=20)
    assert b64[1000:1100] in json.dumps(rec.runs())
    print(f"\nunredacted trace: {rec.upload_bytes()} bytes uploaded, image {len(b64)} b64 chars")
    assert rec.upload_bytes() > 2 * len(b64)
