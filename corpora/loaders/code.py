"""Tcl flow scripts and software sources (Python, C, C++): chunked by proc/function/class (tree-sitter)."""
from __future__ import annotations

from pathlib import Path

from corpora.loaders.hdl import code_or_verification
from corpora.loaders.registry import Loaded, read_text, register

_CODE = dict(headings=None, strip_license=True)


@register("tcl", suffixes=(".tcl", ".sdc", ".xdc"), kind="tcl", tree_sitter="tcl", **_CODE)
@register("python", suffixes=(".py",), kind=code_or_verification, tree_sitter="python", **_CODE)
@register("c", suffixes=(".c", ".h"), kind=code_or_verification, tree_sitter="c", **_CODE)
@register("cpp", suffixes=(".cc", ".cpp", ".hpp", ".cxx"), kind=code_or_verification, tree_sitter="cpp", **_CODE)
def load(path: Path) -> Loaded:
    """The source text (encoding repaired, noted)."""
    return read_text(path)
