"""PDF as plain text of every page (pypdf), with each page's first line as a citation location ("p. 3")."""
from __future__ import annotations

from pathlib import Path

from corpora.loaders.registry import Loaded, register


def pdf_to_text(path: Path) -> tuple[str, str | None, list[tuple[int, str]]]:
    """(text of every page, title from the PDF's metadata, page locations); ValueError for a malformed PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(p.extract_text() or "") for p in reader.pages]
        meta = reader.metadata
        title = meta.title if meta and meta.title else None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as e:
        raise ValueError(f"malformed PDF: {type(e).__name__}: {e}") from e
    locations, line = [], 0
    for n, page in enumerate(pages, 1):
        page = page.replace("\r\n", "\n").replace("\r", "\n")  # line numbers are counted in "\n" lines
        pages[n - 1] = page
        if page.strip():
            locations.append((line, f"p. {n}"))
        line += page.count("\n") + 2  # pages are joined by a blank line
    return "\n\n".join(pages), title, locations


@register("pdf", suffixes=(".pdf",), generated_header=False)
def load(path: Path) -> Loaded:
    """Every page's text; ValueError for a malformed PDF or one without extractable text (scanned)."""
    text, title, locations = pdf_to_text(path)
    if not text.strip():
        raise ValueError("PDF has no extractable text (scanned?)")
    return Loaded(text, title, locations=locations)
