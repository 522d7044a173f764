"""Structured loaders for the spec formats chip teams keep: PDF, Word, PowerPoint, Excel/CSV register maps,
IP-XACT, SystemRDL and OpenTitan-style hjson register files.

Every loader is a plain function ``load_<format>(path) -> Loaded``: Markdown-style text (``#`` headings, pipe
tables) that the heading-aware chunker already understands, plus ``locations`` (0-based line where a citation
label such as ``p. 12``, ``slide 3`` or ``sheet Regs`` starts). Bad input raises ``FormatError`` (a
``ValueError``, which ingest reports as a dropped file) whose message names the file and the reason
(``encrypted``, ``image-only: no text layer``, ``password-protected``, ``unsafe XML``...). No loader runs
anything from the file: Office files are read as XML (macros never run), XML through defusedxml.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from corpora.types import Loaded  # noqa: F401  (what every loader here returns: the registry's type)


class FormatError(ValueError):
    """A file that cannot be read as its format says; the message starts with the file name."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{Path(path).name}: {reason}")
        self.path = str(path)
        self.reason = reason


def pipe_row(cells: list[Any]) -> str:
    """One Markdown pipe-table row; cell line breaks become spaces and ``|`` is escaped so columns stay put."""
    out = []
    for c in cells:
        s = "" if c is None else str(c)
        out.append(" ".join(s.split()).replace("|", "\\|"))
    return "| " + " | ".join(out) + " |"


def pipe_table(rows: list[list[Any]]) -> list[str]:
    """A pipe table (first row as the header, with its ``---`` separator); [] for no rows."""
    rows = [r for r in rows if any(c not in (None, "") for c in r)]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    rows = [list(r) + [""] * (width - len(r)) for r in rows]
    return [pipe_row(rows[0]), "| " + " | ".join(["---"] * width) + " |", *(pipe_row(r) for r in rows[1:])]


def is_ole_container(path: Path) -> bool:
    """True for an OLE2 compound file: how Office stores a password-protected (encrypted) .docx/.xlsx/.pptx."""
    with open(path, "rb") as f:
        return f.read(8) == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


__all__ = ["Loaded", "FormatError", "pipe_row", "pipe_table", "is_ole_container"]
