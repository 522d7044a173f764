"""Loaders: one module per file format, each registering itself in `corpora.loaders.registry`.

Importing this package registers the built-in formats below; a new format is one module that calls
``register`` plus its import here. Ingest and the chunker look formats up with ``format_for(path)`` and
``get(doc_type)`` and never name a format themselves.

    from corpora.loaders import format_for
    fmt = format_for(Path("docs/uart.md"))      # Format(doc_type="markdown", ...)
    loaded = fmt.load(Path("docs/uart.md"))     # Loaded(text, title, doc_type, locations, meta)
"""
from __future__ import annotations

from corpora.loaders.registry import (Format, Loaded, add, doc_type_for, format_for, formats, get, read_text,
                                      register, unregister)

# Built-in formats: each import registers its format(s). Order matters only for the `formats()` listing.
from corpora.loaders import markdown, rst, html, pdf, text, hdl, code, config  # noqa: E402,F401,I001
# The spec formats (structured PDF over the plain one, Word, PowerPoint, sheets, IP-XACT, SystemRDL, hjson registers)
from corpora.loaders import specs  # noqa: E402,F401,I001

__all__ = ["Format", "Loaded", "add", "doc_type_for", "format_for", "formats", "get", "read_text", "register",
           "unregister"]
