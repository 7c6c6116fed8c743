"""Evidence is data: neutralise what indexed text, OCR text or a transcript could use to pass for
instructions or citations before it reaches a prompt or an extractive answer.

- citation markers inside evidence (`[img 99]`, `[1]`, `[audio 2 at 0:34]`) become `(img 99)`, so
  neither a model echoing them nor the extractive composer quoting them can create a citation;
- the prompt's data delimiters (`<<<DATA`, `DATA>>>`) and runs of angle brackets are broken up, so
  evidence cannot close its data block and speak as the prompt;
- control characters are dropped (bidi overrides, zero-width characters, escapes).
Only the shown text changes; ids, sources and time ranges (what citations point at) do not.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from mmrag.graph.citations import _MARKER
from mmrag.graph.models import Evidence

_ANGLES = re.compile(r"<{3,}|>{3,}")
_DELIM = re.compile(r"<<<\s*DATA|DATA\s*>>>", re.I)


def defang(text: str | None) -> str | None:
    """`text` with citation markers, data delimiters and control characters neutralised."""
    if not text:
        return text
    text = _DELIM.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    text = _ANGLES.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    text = _MARKER.sub(lambda m: "(" + m.group(0)[1:-1] + ")", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"))


def guard_evidence(evidence: Sequence[Evidence]) -> list[Evidence]:
    """Copies of `evidence` whose hit texts are defanged (markers and bases unchanged)."""
    out = []
    for ev in evidence:
        hit = ev.item.hit
        safe = defang(hit.text)
        if safe == hit.text:
            out.append(ev)
            continue
        item = ev.item.model_copy(update={"hit": hit.model_copy(update={"text": safe})})
        out.append(ev.model_copy(update={"item": item}))
    return out
