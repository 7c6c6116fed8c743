"""Safe parsing of metadata filters ("loudness_db < -40", "entity == cafe-3") into chroma `where`.

No eval: a small grammar `FIELD OP VALUE` over a whitelist of metadata fields.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from mmrag.errors import UserError
from mmrag.validation import finite

NUMERIC_FIELDS = {"loudness_db", "start", "end", "duration", "char_start", "char_end"}
STRING_FIELDS = {"entity", "source", "kind", "media_type", "channel", "modality", "source_hash", "parent_id"}
_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "==": "$eq", "=": "$eq", "!=": "$ne"}
_FILTER = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|==|!=|<|>|=)\s*(.+?)\s*$")


def parse_filter(text: str) -> dict[str, Any]:
    """One filter expression as a chroma `where` clause."""
    m = _FILTER.match(text or "")
    if not m:
        raise UserError(f"bad filter {text!r}: write FIELD OP VALUE, e.g. 'loudness_db < -40'")
    name, op, raw = m.groups()
    if name in NUMERIC_FIELDS:
        try:
            value: Any = float(raw)
        except ValueError:
            raise UserError(f"filter {text!r}: {name} needs a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise UserError(f"filter {text!r}: {name} needs a finite number, got {raw!r}")
    elif name in STRING_FIELDS:
        if op not in ("==", "=", "!="):
            raise UserError(f"filter {text!r}: {name} only supports == and !=")
        value = raw.strip().strip("'\"")
    else:
        allowed = ", ".join(sorted(NUMERIC_FIELDS | STRING_FIELDS))
        raise UserError(f"filter {text!r}: unknown field {name!r}; allowed: {allowed}")
    return {name: {_OPS[op]: value}}


def build_where(
    filters: Sequence[str] = (),
    entity: str | None = None,
    time_start: float | None = None,
    time_end: float | None = None,
) -> dict[str, Any] | None:
    """Combine filters, an entity and a time range (overlap) into one chroma `where`, or None."""
    clauses = [parse_filter(f) for f in filters if f and f.strip()]
    if entity:
        clauses.append({"entity": {"$eq": entity}})
    if time_start is not None:
        clauses.append({"end": {"$gte": finite(time_start, "time_start")}})
    if time_end is not None:
        clauses.append({"start": {"$lte": finite(time_end, "time_end")}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def filter_fields(filters: Sequence[str]) -> set[str]:
    """Field names a list of filters uses (to skip collections that lack them)."""
    return {next(iter(parse_filter(f))) for f in filters if f and f.strip()}
