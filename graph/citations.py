"""Citation markers: numbering evidence, and checking an answer's markers against it.

Markers: `[1]` text, `[img 3]` image, `[audio 2 at 0:34]`, `[video 1 at 1:02]`. A marker that
points at no evidence item (or at a moment outside the item's time range) is removed from the
answer and reported; the valid ones become structured `Citation`s.
"""

from __future__ import annotations

import re
from typing import Sequence

from mmrag.graph.models import Citation, Evidence, FusedItem, fmt_time

PREFIX = {"text": "", "image": "img ", "audio": "audio ", "video": "video "}
_MARKER = re.compile(r"\[(?:(img|image|audio|video)\s+)?(\d+)(?:\s+at\s+(\d{1,2}(?::\d{2}){1,2}))?\]", re.I)
TOLERANCE = 1.0  # seconds of slack around a segment's time range


def number_evidence(items: Sequence[FusedItem]) -> list[Evidence]:
    """Give each item its marker: text items [1], [2]...; images [img 1]...; per modality."""
    counters: dict[str, int] = {}
    out = []
    for it in items:
        n = counters[it.modality] = counters.get(it.modality, 0) + 1
        out.append(Evidence(n=n, marker_base=f"{PREFIX[it.modality]}{n}", item=it))
    return out


def parse_time(text: str) -> float:
    secs = 0.0
    for part in text.split(":"):
        secs = secs * 60 + int(part)
    return secs


def check_citations(answer: str, evidence: Sequence[Evidence]) -> tuple[str, list[Citation], list[str]]:
    """(answer without invalid markers, valid citations in order of first use, invalid markers)."""
    by_base = {e.marker_base: e for e in evidence}
    valid: dict[str, Citation] = {}
    invalid: list[str] = []

    def repl(m: re.Match[str]) -> str:
        kind, num, at = m.group(1), m.group(2), m.group(3)
        kind = "img" if kind and kind.lower() in ("img", "image") else (kind or "").lower()
        base = f"{kind} {num}" if kind else num
        ev = by_base.get(base)
        t = parse_time(at) if at else None
        ok = ev is not None
        if ok and t is not None:
            if ev.item.modality not in ("audio", "video"):
                ok = False  # a moment in a text or image makes no sense
            else:
                s, e = ev.item.hit.start, ev.item.hit.end
                if s is not None and e is not None and not (s - TOLERANCE <= t <= e + TOLERANCE):
                    ok = False
        if not ok:
            invalid.append(m.group(0))
            return ""
        marker = f"[{base} at {fmt_time(t)}]" if t is not None else f"[{base}]"
        if marker not in valid:
            h = ev.item.hit
            valid[marker] = Citation(
                marker=marker, id=ev.item.id, modality=ev.item.modality, source=ev.item.source,
                start=h.start, end=h.end, at=t, entity=ev.item.entity,
            )
        return marker

    cleaned = _MARKER.sub(repl, answer)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    return cleaned, list(valid.values()), invalid
