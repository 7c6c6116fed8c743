"""Input validation at the API boundary: questions, query media files and run settings.

Every failure is a `UserError` with a message that says what is wrong and what is allowed.
Limits are configurable by environment: `MMRAG_MAX_QUESTION_CHARS` (8000),
`MMRAG_MAX_QUERY_BYTES` (50 MB), `MMRAG_MAX_QUERY_PIXELS` (50 M), `MMRAG_MAX_QUERY_SECONDS` (600).
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import typing
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from mmrag.errors import UserError


def _limit(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


def max_question_chars() -> int:
    return int(_limit("MMRAG_MAX_QUESTION_CHARS", 8000))


def clean_question(question: Any, allow_empty: bool = False) -> str:
    """The question as safe text: a str, valid Unicode, at most the length limit, control and
    invisible format characters replaced by spaces, runs of whitespace (newlines included) collapsed
    to one space; a UserError when nothing searchable is left
    (unless `allow_empty`, for a question that is only an image or a sound)."""
    if question is None:
        question = ""
    if not isinstance(question, str):
        raise UserError(f"the question must be text, not {type(question).__name__}")
    limit = max_question_chars()
    if len(question) > limit:
        raise UserError(f"the question is {len(question):,} characters long; the limit is {limit:,} "
                        "(MMRAG_MAX_QUESTION_CHARS)")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UserError(f"the question is not valid Unicode (an unpaired surrogate at character {exc.start})") from None
    out = []
    for ch in question:
        cat = unicodedata.category(ch)
        if ch in "\n\t":
            out.append(ch)
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn") or ch in "\ufffe\uffff\ufffd":
            out.append(" ")  # controls, bidi overrides, zero-width, private use, unassigned
        else:
            out.append(ch)
    text = " ".join("".join(out).split())
    if not any(unicodedata.category(ch)[0] in "LNS" for ch in text):
        if allow_empty:
            return ""
        what = "empty question" if not text else "the question has no words"
        raise UserError(f"{what}: give text (any language), --image or --audio")
    return text


def _regular_file(path: Any, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise UserError(f"{what} must be a file path, not {type(path).__name__}")
    p = Path(os.path.expanduser(str(path)))
    try:
        st = p.stat()
    except OSError as exc:
        raise UserError(f"{what} {path}: {exc.strerror or 'cannot be read'}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{what} {path} is not a regular file")
    if st.st_size == 0:
        raise UserError(f"{what} {path} is empty (0 bytes)")
    max_bytes = int(_limit("MMRAG_MAX_QUERY_BYTES", 50 * 1024**2))
    if st.st_size > max_bytes:
        raise UserError(f"{what} {path} is {st.st_size:,} bytes; the limit is {max_bytes:,} (MMRAG_MAX_QUERY_BYTES)")
    return p


def check_image_file(path: Any) -> Path:
    """A readable image within the pixel limit, or UserError."""
    from PIL import Image

    p = _regular_file(path, "--image")
    max_pixels = int(_limit("MMRAG_MAX_QUERY_PIXELS", 50_000_000))
    try:
        with Image.open(p) as img:
            w, h = img.size
            if w * h > max_pixels or w <= 0 or h <= 0:
                raise UserError(f"--image {path} is {w} x {h} pixels; the limit is {max_pixels:,} (MMRAG_MAX_QUERY_PIXELS)")
            img.verify()
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds, bombs included
        raise UserError(f"--image {path} is not a readable image: {str(exc)[:200]}") from None
    return p


def check_audio_file(path: Any) -> Path:
    """A readable sound file within the duration limit, or UserError."""
    p = _regular_file(path, "--audio")
    max_seconds = _limit("MMRAG_MAX_QUERY_SECONDS", 600.0)
    seconds: float | None = None
    try:
        import soundfile as sf

        info = sf.info(str(p))
        if info.samplerate <= 0 or info.channels <= 0:
            raise UserError(f"--audio {path} declares {info.samplerate} Hz and {info.channels} channels")
        seconds = info.frames / info.samplerate
    except UserError:
        raise
    except Exception:  # noqa: BLE001 - not a libsndfile format: ask the container
        try:
            import av

            with av.open(str(p)) as c:
                if not c.streams.audio:
                    raise UserError(f"--audio {path} has no sound stream")
                seconds = (c.duration or 0) / 1_000_000
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"--audio {path} is not a readable sound file: {str(exc)[:200]}") from None
    if seconds is not None and seconds > max_seconds:
        raise UserError(f"--audio {path} lasts {seconds:,.0f} s; the limit is {max_seconds:,.0f} s (MMRAG_MAX_QUERY_SECONDS)")
    return p


def finite(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(x):
        raise UserError(f"{name} must be a finite number, not {value!r}")
    return x


@lru_cache(maxsize=None)
def _adapter(tp: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(tp)


def check_dataclass_fields(obj: Any) -> None:
    """Coerce each field of a dataclass instance to its annotated type (UserError naming the field)."""
    from pydantic import ValidationError

    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        try:
            coerced = _adapter(hints[f.name]).validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UserError(f"setting {f.name}={value!r} is invalid: {first.get('msg', exc)}") from None
        if isinstance(coerced, float) and not math.isfinite(coerced):
            raise UserError(f"setting {f.name} must be a finite number, not {value!r}")
        if isinstance(coerced, dict):
            for k, v in coerced.items():
                if isinstance(v, float) and not math.isfinite(v):
                    raise UserError(f"setting {f.name}[{k!r}] must be a finite number, not {v!r}")
        setattr(obj, f.name, coerced)


REQUEST_PATH_FIELDS = {"store": "MMRAG_STORE", "chroma_url": "MMRAG_CHROMA_URL", "media_root": "MMRAG_MEDIA_ROOT"}


def server_mode() -> bool:
    """True inside a LangGraph API server (`langgraph dev` / `langgraph up`), or when
    `MMRAG_SERVER_MODE=1`; `MMRAG_SERVER_MODE=0` turns it off."""
    import sys

    flag = os.environ.get("MMRAG_SERVER_MODE")
    if flag in ("0", "1"):
        return flag == "1"
    return "langgraph_api" in sys.modules


def check_request_paths(ctx: Any) -> None:
    """In server mode a request may not point the graph at local paths or other servers: `store`,
    `chroma_url` and `media_root` must be what the server's environment says (MMRAG_STORE,
    MMRAG_CHROMA_URL, MMRAG_MEDIA_ROOT), unless the operator sets MMRAG_ALLOW_REQUEST_PATHS=1."""
    if not server_mode() or os.environ.get("MMRAG_ALLOW_REQUEST_PATHS") == "1":
        return
    for name, env_name in REQUEST_PATH_FIELDS.items():
        value = getattr(ctx, name, None)
        allowed = os.environ.get(env_name) or (".mmrag" if name == "store" else None)
        if value and value != allowed:
            raise UserError(f"server mode: {name} is set by the server ({env_name}), not by a request "
                            "(the operator may allow it with MMRAG_ALLOW_REQUEST_PATHS=1)")
