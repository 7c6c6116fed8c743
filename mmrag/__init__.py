"""mmrag: an open multimodal RAG engine.

Nothing heavy is imported here; `from mmrag import MultimodalRAG` loads the API lazily.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in {"MultimodalRAG", "Answer"}:
        from mmrag import api

        return getattr(api, name)
    raise AttributeError(f"module 'mmrag' has no attribute {name!r}")
