"""Retrieval tools, one per modality, usable by the graph and by other agents."""
