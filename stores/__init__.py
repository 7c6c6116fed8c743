"""Ingestion and per-modality chromadb stores."""

from .chroma_store import EncoderMismatch, StoreError, VectorStore, collection_name

__all__ = ["EncoderMismatch", "StoreError", "VectorStore", "collection_name"]
