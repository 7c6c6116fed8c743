"""Prompts as data: markdown/yaml files loaded with `load_prompt(name)`."""

from __future__ import annotations

from importlib import resources


def load_prompt(name: str) -> str:
    """Text of `prompts/<name>` (e.g. "generate.md")."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
