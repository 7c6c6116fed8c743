"""Runs the graph once with LangSmith tracing configured from the environment (a subprocess of
test_server_langsmith.py, so the process-wide LangSmith client starts clean).

    python tests/trace_driver.py STORE_DIR IMAGE_B64_FILE OUT_JSON [FUSION]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    store, image_file, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    fusion = sys.argv[4] if len(sys.argv) > 4 else "rrf"
    from langchain_core.tracers.langchain import wait_for_all_tracers

    from mmrag.graph.graph import graph

    b64 = image_file.read_text()
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Which place has a dog barking and a dog running with a ball?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}},
        ],
    }
    t0 = time.perf_counter()
    result = graph.invoke({"messages": [message]}, context={"store": store, "fusion": fusion, "k": 3})
    seconds = time.perf_counter() - t0
    wait_for_all_tracers()
    keys = ("answer", "citations", "confidence", "hops", "sub_queries", "decomposer", "invalid_citations")
    out.write_text(json.dumps({**{k: result.get(k) for k in keys}, "seconds": seconds}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
