"""Smoke runs of `mmrag bench scale` at tiny sizes: structure and sanity, never speed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmrag.evals.bench_scale import ScaleConfig, exact_topk, noisy, run_scale


def test_exact_topk_matches_full_sort() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1000, 16)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q = X[:5] + 0.01
    got = exact_topk(X, Q, 10, chunk=128)  # several chunks: the merge across chunks is exercised
    want = np.argsort(-(Q @ X.T), axis=1)[:, :10]
    assert np.array_equal(got, want)
    assert list(got[:, 0]) == [0, 1, 2, 3, 4]


def test_noisy_vectors_are_unit_and_clustered() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)
    X = noisy(centres, 400, 0.3, rng, chunk=64)
    assert X.shape == (400, 8)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert float(np.max(X @ centres.T, axis=1).mean()) > 0.9  # each vector sits near one centre


@pytest.mark.integration
def test_scale_bench_tiny(tmp_path) -> None:
    cfg = ScaleConfig(n=600, queries=20, source="gmm", ef_search=[10, 80], add_batch=250, path=str(tmp_path / "s"),
                      milestones=[300], progress_out=str(tmp_path / "p.json"))
    res = run_scale(cfg)
    assert [m["n"] for m in res["milestones"]] == [300, 600]
    assert json.loads((tmp_path / "p.json").read_text())["n"] == 600  # rewritten after each milestone
    for key in ("recall@10", "p50_ms", "p95_ms", "build_s", "disk_mb", "serve_rss_mb", "sweep", "hnsw"):
        assert key in res, key
    assert res["count"] == 600
    assert [r["ef_search"] for r in res["sweep"]] == [10, 80]
    assert 0.0 <= res["recall@10"] <= 1.0
    assert res["sweep"][1]["recall@10"] >= 0.9  # 600 vectors, ef 80: HNSW is all but exact
    assert res["disk_mb"] > 0 and res["p50_ms"] > 0
    json.dumps(res)  # JSON-serialisable


@pytest.mark.integration
def test_scale_cli_writes_json(tmp_path, capsys) -> None:
    from mmrag.cli import main

    out = tmp_path / "scale.json"
    rc = main(["bench", "scale", "--n", "300", "--queries", "10", "--source", "gmm", "--ef-search", "20",
               "--M", "8", "--ef-construction", "50", "--out", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["hnsw"]["max_neighbors"] == 8 and res["hnsw"]["ef_construction"] == 50
    assert "| ef_search | recall@10 |" in capsys.readouterr().out


def test_scale_cli_rejects_bad_ef_list() -> None:
    from mmrag.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "scale", "--ef-search", "ten"])
