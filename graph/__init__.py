"""The LangGraph state graph: decompose, retrieve, fuse, check, reformulate, generate."""
