"""LangSmith tracing for the graph: useful metadata on every node's run, and no media in traces.

With `LANGSMITH_TRACING=true` LangChain traces every node as a named run. This module adds:

* `traced(node)`: wraps a node (or router) so that, after it runs, its LangSmith run gets metadata
  read from its state update and context (`mmrag.node`, `mmrag.sub_queries`, `mmrag.hits`
  (ids and scores per modality), `mmrag.fusion` (strategy, weights, normalisation),
  `mmrag.confidence`, `mmrag.hop`, `mmrag.citations`, ...) and the tags `mmrag`, `mmrag:<node>`.
  Without tracing it only calls the node.
* `install_redaction()`: sets the process-wide LangSmith client (`langsmith.configure`) to one whose
  `hide_inputs` / `hide_outputs` replace every base64 payload (data URLs, image/audio content
  parts, `query_image` / `query_audio` fields) by a short reference
  `<base64 image/jpeg 51234 bytes sha256:0123abcd...>`, so an image question stays a few KiB per
  run instead of megabytes repeated in every node. The hash identifies the media: the same bytes
  in the store or on disk have the same sha256. It is called when this module is imported with
  tracing on (the graph imports it), and leaves a client someone else configured alone.
  `MMRAG_TRACE_MEDIA=keep` turns the redaction off (traces then carry the full base64).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import inspect
import logging
import os
import re
from typing import Any, Callable

log = logging.getLogger(__name__)

MIN_BASE64 = 512  # shorter strings are left alone
MEDIA_KEYS = {"query_image", "query_audio", "media_base64", "base64", "data", "image_base64", "audio_base64"}
_B64 = re.compile(r"[A-Za-z0-9+/=\r\n]+")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(;[^,]*)?;base64,", re.I)
_installed: Any = None


def tracing_enabled() -> bool:
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING"):
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


def reference(payload: str, media_type: str | None = None) -> str:
    """A short stand-in for a base64 payload: its media type, decoded size and sha256 prefix."""
    try:
        raw = base64.b64decode(payload.strip(), validate=False)
    except (binascii.Error, ValueError):
        raw = payload.encode()
    return f"<base64 {media_type or 'media'} {len(raw)} bytes sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


_B64_RUN = re.compile(r"(?:data:([\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,)?([A-Za-z0-9+/]{%d,}={0,2})" % MIN_BASE64)


def _redact_str(s: str, key: str | None = None) -> str:
    m = _DATA_URL.match(s)
    if m:
        return reference(s[m.end() :], m.group(1))
    if len(s) < MIN_BASE64:
        return s
    kind = {"query_image": "image", "image_base64": "image", "query_audio": "audio", "audio_base64": "audio"}
    if key in MEDIA_KEYS and _B64.fullmatch(s):
        return reference(s, kind.get(key or ""))
    # base64 runs inside longer text (reprs, JSON strings)
    return _B64_RUN.sub(lambda r: reference(r.group(2), r.group(1)), s)


def redact(value: Any, key: str | None = None, _depth: int = 0) -> Any:
    """A copy of `value` with base64 media replaced by references (dicts, lists, messages)."""
    if _depth > 40:
        return value
    if isinstance(value, str):
        return _redact_str(value, key)
    if isinstance(value, dict):
        return {k: redact(v, str(k), _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        out = [redact(v, key, _depth + 1) for v in value]
        return type(value)(out) if isinstance(value, tuple) else out
    if hasattr(value, "node") and hasattr(value, "arg"):  # a langgraph Send
        return type(value)(value.node, redact(value.arg, None, _depth + 1))
    content = getattr(value, "content", None)
    if content is not None and hasattr(value, "model_copy"):  # a LangChain message
        new = redact(content, "content", _depth + 1)
        return value if new is content else value.model_copy(update={"content": new})
    return value


def _hide(data: dict[str, Any]) -> dict[str, Any]:
    try:
        return redact(data)
    except Exception:  # noqa: BLE001 - never break a run because of tracing
        log.exception("redaction failed; dropping the payload from the trace")
        return {"redaction_failed": True}


def install_redaction(force: bool = False) -> Any:
    """Make the process-wide LangSmith client redact media; returns that client (or None)."""
    global _installed
    if not (force or tracing_enabled()) or os.environ.get("MMRAG_TRACE_MEDIA") == "keep":
        return None
    import langsmith
    from langsmith import run_trees

    current = getattr(run_trees, "_CLIENT", None)
    if current is not None and current is not _installed:
        log.info("a LangSmith client is already configured; leaving its input/output hiding as it is")
        return current
    if _installed is None:
        _installed = langsmith.Client(hide_inputs=_hide, hide_outputs=_hide)
        langsmith.configure(client=_installed)
    return _installed


# -- run metadata --------------------------------------------------------------------------------
def _hits_summary(hits: dict[str, list[dict[str, Any]]], top: int = 10) -> dict[str, list[list[Any]]]:
    return {m: [[h.get("id"), round(float(h.get("score", 0.0)), 4)] for h in hs[:top]] for m, hs in hits.items()}


def node_metadata(node: str, update: Any, state: Any, ctx: Any) -> dict[str, Any]:
    """What a node's run should carry, from its state update (and its input / context)."""
    md: dict[str, Any] = {"mmrag.node": node}
    state = state if isinstance(state, dict) else {}
    upd = update if isinstance(update, dict) else {}
    hop = upd.get("hops", state.get("hops"))
    md["mmrag.hop"] = int(hop or 0)
    if "modality" in state:  # a retrieve branch's private payload
        md["mmrag.modality"] = state["modality"]
    subs = upd.get("sub_queries") or state.get("sub_queries")
    if subs:
        md["mmrag.sub_queries"] = [
            {k: sq.get(k) for k in ("modality", "text", "filters", "media", "hop") if sq.get(k) not in (None, [], "")}
            for sq in subs
        ]
    if upd.get("dominant"):
        md["mmrag.dominant"] = upd["dominant"]
    if upd.get("decomposer"):
        md["mmrag.decomposer"] = upd["decomposer"]
    if upd.get("hits"):
        md["mmrag.hits"] = _hits_summary(upd["hits"])
    if ctx is not None:
        md["mmrag.fusion"] = {
            "strategy": getattr(ctx, "fusion", None),
            "weights": getattr(ctx, "weights", None) or {},
            "normalisation": getattr(ctx, "normalisation", None),
            "dominant_bias": getattr(ctx, "dominant_bias", None),
        }
    if upd.get("fused"):
        md["mmrag.fused"] = [[f.get("id"), f.get("modality"), round(float(f.get("score", 0.0)), 4)] for f in upd["fused"][:10]]
    if upd.get("entities"):
        md["mmrag.entities"] = [[e.get("entity"), round(float(e.get("score", 0.0)), 4)] for e in upd["entities"][:5]]
    if "confidence" in upd:
        md["mmrag.confidence"] = upd["confidence"]
        md["mmrag.confidence_parts"] = upd.get("confidence_parts") or {}
        md["mmrag.unsure"] = bool(upd.get("unsure"))
        if ctx is not None:
            md["mmrag.threshold"] = getattr(ctx, "confidence_threshold", None)
    if "citations" in upd and node == "generate":
        md["mmrag.citations"] = [
            {k: c.get(k) for k in ("marker", "id", "modality", "source", "at") if c.get(k) is not None}
            for c in upd.get("citations") or []
        ]
        md["mmrag.invalid_citations"] = upd.get("invalid_citations") or []
        md["mmrag.extractive"] = bool(upd.get("extractive"))
    if isinstance(update, str):  # a router's decision
        md["mmrag.route"] = update
    elif isinstance(update, list) and update and hasattr(update[0], "node"):  # Sends
        md["mmrag.route"] = [f"{s.node}:{(s.arg or {}).get('modality', '')}" for s in update]
    return md


def annotate(node: str, update: Any, state: Any = None, ctx: Any = None) -> dict[str, Any] | None:
    """Add `node_metadata` and tags to the current LangSmith run; None when not tracing."""
    if not tracing_enabled():
        return None
    try:
        from langsmith import get_current_run_tree

        run = get_current_run_tree()
        if run is None:
            return None
        md = node_metadata(node, update, state, ctx)
        run.metadata.update(md)
        run.tags = list(dict.fromkeys([*(run.tags or []), "mmrag", f"mmrag:{node}"]))
        return md
    except Exception:  # noqa: BLE001 - tracing must never break the graph
        log.exception("could not annotate the %s run", node)
        return None


def traced(fn: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
    """Wrap a node or router so its LangSmith run carries `node_metadata`. The signature is kept
    (LangGraph reads it to pass `runtime` / `config`)."""
    node = name or fn.__name__.removesuffix("_node")

    def _ctx(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        runtime = kwargs.get("runtime") or next((a for a in args[1:] if hasattr(a, "context")), None)
        raw = getattr(runtime, "context", None)
        if raw is None or not hasattr(raw, "fusion"):
            try:
                from mmrag.graph.context import Context

                return Context.from_any(raw)
            except Exception:  # noqa: BLE001
                return None
        return raw

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def awrapper(*args: Any, **kwargs: Any) -> Any:
            out = await fn(*args, **kwargs)
            if tracing_enabled():
                annotate(node, out, args[0] if args else None, _ctx(args, kwargs))
            return out

        return awrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        if tracing_enabled():
            annotate(node, out, args[0] if args else None, _ctx(args, kwargs))
        return out

    return wrapper


install_redaction()


# -- offline export of the run tree -------------------------------------------------------------
NODE_NAMES = {"decompose", "retrieve", "fuse", "check_confidence", "reformulate", "generate",
              "fan_out", "route_confidence", "route_after_reformulate"}  # fmt: skip


def make_collector(ctx: Any = None) -> Any:
    """A LangChain callback that keeps the run tree in memory (no LangSmith needed):
    `graph.invoke(..., config={"callbacks": [col]})`, then `col.tree()` / `col.write(path)`.
    Node runs get the same `mmrag.*` metadata as LangSmith runs; inputs/outputs are left out."""
    import json
    from pathlib import Path

    from langchain_core.tracers.base import BaseTracer

    class RunTreeCollector(BaseTracer):
        name: str = "mmrag-run-tree"

        def __init__(self) -> None:
            super().__init__()
            self.roots: list[Any] = []

        def _persist_run(self, run: Any) -> None:
            self.roots.append(run)

        def _on_chain_end(self, run: Any) -> None:
            if run.name in NODE_NAMES:
                out = run.outputs or {}
                update = out.get("output", out) if set(out) == {"output"} else out
                state = run.inputs.get("input", run.inputs) if set(run.inputs or {}) == {"input"} else run.inputs
                run.metadata.update(node_metadata(run.name.removesuffix("_node"), update, state, ctx))
                run.tags = list(dict.fromkeys([*(run.tags or []), "mmrag", f"mmrag:{run.name}"]))

        def _node(self, run: Any) -> dict[str, Any]:
            md = run.metadata or {}
            return {
                "name": run.name, "id": str(run.id), "parent_id": str(run.parent_run_id) if run.parent_run_id else None,
                "run_type": run.run_type, "tags": list(run.tags or []),
                "metadata": {k: v for k, v in md.items() if k.startswith(("mmrag.", "langgraph_node", "langgraph_step"))},
                "seconds": round((run.end_time - run.start_time).total_seconds(), 4) if run.end_time else None,
                "error": run.error,
                "children": [self._node(c) for c in sorted(run.child_runs, key=lambda c: c.start_time)],
            }  # fmt: skip

        def tree(self) -> list[dict[str, Any]]:
            return [self._node(r) for r in self.roots]

        def write(self, path: str | Path) -> Path:
            p = Path(path)
            p.write_text(json.dumps({"runs": self.tree()}, indent=1, default=str))
            return p

    return RunTreeCollector()
