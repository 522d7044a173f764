"""Plain text (``.txt``, logs, CSV that is not a bug export, README/Makefile/LICENSE without a suffix).

It is also the loader ingest falls back to for a file of unknown type that sniffs as text
(``IngestConfig.include_unknown_text``).
"""
from __future__ import annotations

from pathlib import Path

from corpora.loaders.registry import Loaded, read_text, register


@register("text", suffixes=(".txt", ".text", ".log", ".csv"), names=("readme", "makefile", "license", "notice"))
def load(path: Path) -> Loaded:
    """The file's text (encoding repaired, noted)."""
    return read_text(path)
