"""Reading text documents (.txt .md .html .pdf) and cutting them into chunks with char offsets.

Offsets index the extracted text: the file's decoded text for .txt/.md, the visible text (tags,
scripts and styles stripped, entities unescaped) for .html, and the pages' text joined with
blank lines for .pdf (each chunk also records the page its start falls on).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


class ReadError(ValueError):
    """A file that cannot be read as what it claims to be (the reason is user-facing)."""


@dataclass
class TextDoc:
    text: str
    page_starts: list[int] = field(default_factory=list)  # char offset where each PDF page starts
    warning: str | None = None  # the file was read, but something about it should be reported


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int


def decode_text(data: bytes) -> tuple[str, str | None]:
    """UTF-8 (with or without BOM); otherwise cp1252 with a warning naming the first bad byte."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        text = data.decode("cp1252", errors="replace")
        return text, f"not valid UTF-8 (byte 0x{bad:02x} at offset {exc.start}); decoded as cp1252"


class _Visible(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "head"}
    _BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "h1", "h2",
              "h3", "h4", "h5", "h6", "header", "footer", "blockquote", "pre", "title", "dt", "dd"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self.skip += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self.skip:
            self.skip -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _Visible()
    parser.feed(markup)
    parser.close()
    body = "".join(parser.parts)
    title = " ".join("".join(parser.title).split())
    text = (title + "\n\n" if title else "") + html.unescape(body)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" ?\n[ \n]*", lambda m: "\n\n" if m.group().count("\n") > 1 else "\n", text)
    return text.strip()


def read_pdf(path: Path) -> TextDoc:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:  # noqa: BLE001 - pypdf raises several kinds
                raise ReadError("PDF is encrypted") from exc
        parts: list[str] = []
        starts: list[int] = []
        pos = 0
        for page in reader.pages:
            starts.append(pos)
            txt = (page.extract_text() or "").strip()
            parts.append(txt)
            pos += len(txt) + 2
    except ReadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ReadError(f"unreadable PDF: {exc}") from exc
    text = "\n\n".join(parts)
    if not text.strip():
        raise ReadError("PDF has no extractable text (scanned pages are not OCR'd)")
    return TextDoc(text, starts)


def read_text_file(path: Path, media_type: str) -> TextDoc:
    if media_type == "application/pdf":
        return read_pdf(path)
    text, warning = decode_text(path.read_bytes())
    if media_type == "text/html":
        text = html_to_text(text)
    if not text.strip():
        raise ReadError("no text in file")
    return TextDoc(text, [], warning)


def chunk_text(text: str, size: int = 800, overlap: int = 100) -> list[Chunk]:
    """Chunks of about `size` chars overlapping by about `overlap`, cut at paragraph, sentence or
    word boundaries where one lies in the last third of the window. Offsets index `text`."""
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("chunk size must be > 0 and overlap in [0, size)")
    chunks: list[Chunk] = []
    n = len(text)
    start = 0
    while start < n:
        while start < n and text[start].isspace():
            start += 1
        if start >= n:
            break
        end = min(n, start + size)
        if end < n:
            window = text[start:end]
            lo = size * 2 // 3
            cut = -1
            for pat in ("\n\n", ". ", "! ", "? ", "\n", " "):
                cut = window.rfind(pat, lo)
                if cut != -1:
                    cut += len(pat)
                    break
            if cut > 0:
                end = start + cut
        piece = text[start:end]
        stripped_end = start + len(piece.rstrip())
        if stripped_end > start:
            chunks.append(Chunk(text[start:stripped_end], start, stripped_end))
        if end >= n:
            break
        nxt = max(end - overlap, start + 1)
        # start the overlap at a word boundary
        sp = text.find(" ", nxt, end)
        start = sp + 1 if sp != -1 else nxt
    return chunks


def page_of(offset: int, page_starts: list[int]) -> int:
    page = 0
    for i, s in enumerate(page_starts):
        if s <= offset:
            page = i
    return page + 1
