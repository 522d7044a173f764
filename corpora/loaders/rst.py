"""reStructuredText (``.rst``): read as it is; the chunker splits on its underlined titles (`corpora.headings`)."""
from __future__ import annotations

from pathlib import Path

from corpora.loaders.registry import Loaded, read_text, register


@register("rst", suffixes=(".rst",), headings="rst", generated_header=False)
def load(path: Path) -> Loaded:
    """The file's text (encoding repaired, noted)."""
    return read_text(path)
