"""Markdown (``.md``): read as it is; its ``#`` headings are what the chunker splits on."""
from __future__ import annotations

from pathlib import Path

from corpora.loaders.registry import Loaded, read_text, register


@register("markdown", suffixes=(".md", ".markdown"), generated_header=False)
def load(path: Path) -> Loaded:
    """The file's text (encoding repaired, noted)."""
    return read_text(path)
