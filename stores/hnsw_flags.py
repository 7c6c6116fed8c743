"""Command-line flags for the HNSW index of each chroma collection (`mmrag ingest`, `mmrag bench scale`).

They become `VectorStore(hnsw=...)`, applied when a collection is created: space, max_neighbors
(M), ef_construction and the build settings are fixed for the life of a collection; ef_search can
be changed later (chroma reads it when a process loads the index). docs/performance.md has the
trade-off figures.
"""

from __future__ import annotations

import argparse
from typing import Any

from mmrag.errors import UserError

KEYS = ("space", "max_neighbors", "ef_construction", "ef_search", "num_threads", "batch_size", "sync_threshold")


def add_hnsw_flags(p: argparse.ArgumentParser, ef_search_type: Any = int, space_default: str | None = None) -> None:
    g = p.add_argument_group("HNSW index (set when a collection is created)")
    g.add_argument("--space", choices=["cosine", "l2", "ip"], default=space_default,
                   help="distance (mmrag's encoders are L2-normalised: cosine, the default)")
    g.add_argument("--max-neighbors", "--M", dest="max_neighbors", type=int, default=None,
                   help="graph degree M (chroma default 16): higher = better recall, more memory, slower build")
    g.add_argument("--ef-construction", type=int, default=None,
                   help="candidates while building (chroma default 100): higher = better graph, slower build")
    g.add_argument("--ef-search", type=ef_search_type, default=None,
                   help="candidates while querying (chroma default 100): higher = better recall, slower queries")
    g.add_argument("--hnsw-threads", dest="num_threads", type=int, default=None, help="threads building the index")
    g.add_argument("--hnsw-batch-size", dest="batch_size", type=int, default=None,
                   help="vectors buffered before they enter the index (chroma default 100)")
    g.add_argument("--sync-threshold", dest="sync_threshold", type=int, default=None,
                   help="vectors between index saves (chroma default 1000); each save rewrites the whole index, "
                        "so raise it (e.g. 100000) for bulk loads of 100k+ vectors")


def hnsw_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The `hnsw` mapping for `VectorStore(hnsw=...)` from the flags of `add_hnsw_flags`."""
    out: dict[str, Any] = {}
    for key in KEYS:
        val = getattr(args, key, None)
        if val is None:
            continue
        if key != "space" and isinstance(val, int) and val < 1:
            raise UserError(f"HNSW setting {key} must be a positive integer, got {val}")
        out[key] = val
    if "batch_size" in out and "sync_threshold" in out and out["sync_threshold"] < out["batch_size"]:
        raise UserError("--sync-threshold must be at least --hnsw-batch-size")
    return out
