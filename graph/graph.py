"""Wiring only: decompose -> retrieve (one Send per modality) -> fuse -> check_confidence
-> (reformulate -> retrieve, bounded by `max_hops`) -> generate -> END.

`graph` is the compiled graph `langgraph dev` serves (it supplies its own checkpointer);
`build_graph(checkpointer=...)` compiles another, e.g. with a SQLite checkpointer.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from mmrag.graph.context import Context
from mmrag.graph.nodes import (
    check_confidence,
    decompose,
    fan_out,
    fuse_node,
    generate,
    reformulate,
    retrieve,
    route_after_reformulate,
    route_confidence,
)
from mmrag.graph.state import InputState, State
from mmrag.graph.tracing import traced  # LangSmith metadata per node; media redacted in traces


def build_builder() -> StateGraph:
    builder = StateGraph(State, context_schema=Context, input_schema=InputState)
    builder.add_node("decompose", traced(decompose))
    builder.add_node("retrieve", traced(retrieve))
    builder.add_node("fuse", traced(fuse_node))
    builder.add_node("check_confidence", traced(check_confidence))
    builder.add_node("reformulate", traced(reformulate))
    builder.add_node("generate", traced(generate))
    builder.add_edge(START, "decompose")
    builder.add_conditional_edges("decompose", traced(fan_out), ["retrieve"])
    builder.add_edge("retrieve", "fuse")
    builder.add_edge("fuse", "check_confidence")
    builder.add_conditional_edges("check_confidence", traced(route_confidence), ["reformulate", "generate"])
    builder.add_conditional_edges("reformulate", traced(route_after_reformulate), ["retrieve", "generate"])
    builder.add_edge("generate", END)
    return builder


def build_graph(checkpointer: Any = None, name: str = "mmrag") -> Any:
    return build_builder().compile(checkpointer=checkpointer, name=name)


graph = build_graph()
