"""Run configuration: the `Context` dataclass used as the graph's `context_schema`.

Studio shows each field's description. Explicit values win; environment variables only fill
what is left unset (`MMRAG_LLM_BASE_URL`/`OPENAI_BASE_URL`, `MMRAG_LLM_MODEL`,
`MMRAG_LLM_API_KEY`/`OPENAI_API_KEY`, `MMRAG_STORE`, `MMRAG_CHROMA_URL`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from mmrag.errors import UserError
from mmrag.validation import check_dataclass_fields

FUSIONS = ("score", "rrf", "moe", "attention")


def _env(*names: str) -> str | None:
    for n in names:
        v = os.environ.get(n)
        if v:
            return v
    return None


@dataclass(kw_only=True)
class Context:
    """How one run of the graph retrieves, fuses, checks and answers."""

    fusion: Literal["score", "rrf", "moe", "attention"] = field(
        default="score",
        metadata={"description": "Fusion strategy: score (normalised, weighted), rrf, moe (learned gate), attention."},
    )
    normalisation: Literal["minmax", "zscore"] = field(
        default="minmax", metadata={"description": "Per-modality score normalisation for score fusion."}
    )
    weights: dict[str, float] = field(
        default_factory=dict,
        metadata={"description": "Per-modality weights for score/rrf fusion, e.g. {'image': 1.5}; default 1."},
    )
    dominant_bias: float = field(
        default=0.25, metadata={"description": "Extra weight (fraction) given to the question's dominant modality."}
    )
    confidence_threshold: float = field(
        default=0.5, metadata={"description": "Below this calibrated confidence the graph reformulates and retrieves again."}
    )
    calibration: Literal["default", "fitted"] = field(
        default="default",
        metadata={"description": "Confidence coefficients: hand-set default, or fitted by `mmrag train-fusion`."},
    )
    min_score: float = field(
        default=0.1, metadata={"description": "Hits with a raw similarity below this are dropped before fusion (noise floor)."}
    )
    max_hops: int = field(default=2, metadata={"description": "Most reformulation hops before answering anyway."})
    k: int = field(default=5, metadata={"description": "Items retrieved per modality and sub-query."})
    modalities: list[str] = field(
        default_factory=lambda: ["text", "image", "audio", "video"],
        metadata={"description": "Modalities the graph may search."},
    )
    store: str | None = field(default=None, metadata={"description": "Path of the local chroma store (default .mmrag)."})
    chroma_url: str | None = field(default=None, metadata={"description": "URL of a Chroma server; wins over `store`."})
    media_root: str | None = field(
        default=None, metadata={"description": "Folder the store's source paths are relative to (for images shown to the VLM)."}
    )
    encoders: dict[str, str] = field(
        default_factory=dict,
        metadata={"description": "Encoder per channel (text/image/audio); default: what wrote each collection."},
    )
    decomposer: Literal["auto", "rules", "llm"] = field(
        default="auto", metadata={"description": "auto: the LLM when one is configured, rules otherwise."}
    )
    generator: Literal["auto", "llm", "extractive"] = field(
        default="auto", metadata={"description": "auto: the VLM when one is configured, extractive otherwise."}
    )
    llm_base_url: str | None = field(
        default=None, metadata={"description": "OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."}
    )
    llm_model: str | None = field(default=None, metadata={"description": "Chat/VLM model name at that endpoint."})
    llm_api_key: str | None = field(default=None, metadata={"description": "API key (any string for local servers)."})
    max_tokens: int = field(default=400, metadata={"description": "Most tokens the generator may write."})
    temperature: float = field(default=0.0, metadata={"description": "Sampling temperature of the chat model."})
    send_images: bool = field(default=True, metadata={"description": "Give retrieved images to the VLM as image parts."})

    def __post_init__(self) -> None:
        check_dataclass_fields(self)  # UserError naming a field of the wrong type (mmrag.validation)
        self.llm_base_url = self.llm_base_url or _env("MMRAG_LLM_BASE_URL", "OPENAI_BASE_URL")
        self.llm_model = self.llm_model or _env("MMRAG_LLM_MODEL")
        self.llm_api_key = self.llm_api_key or _env("MMRAG_LLM_API_KEY", "OPENAI_API_KEY")
        self.chroma_url = self.chroma_url or _env("MMRAG_CHROMA_URL")
        self.store = self.store or _env("MMRAG_STORE") or ".mmrag"
        if self.fusion not in FUSIONS:
            raise UserError(f"unknown fusion {self.fusion!r}; choose one of {', '.join(FUSIONS)}")
        if self.k < 1 or self.max_hops < 0:
            raise UserError("k must be >= 1 and max_hops >= 0")
        bad = set(self.modalities) - {"text", "image", "audio", "video"}
        if bad:
            raise UserError(f"unknown modalities {sorted(bad)}")

    @property
    def llm_configured(self) -> bool:
        """A chat model is usable when a model name and an endpoint or key are known."""
        return bool(self.llm_model and (self.llm_base_url or self.llm_api_key))

    @classmethod
    def from_any(cls, value: Any) -> "Context":
        """A Context from None, a Context, or a dict (unknown keys are a user error)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = {f.name for f in fields(cls)}
            unknown = set(value) - known
            if unknown:
                raise UserError(f"unknown context fields: {sorted(unknown)}")
            return cls(**value)
        raise UserError(f"context must be a Context or a dict, not {type(value).__name__}")
