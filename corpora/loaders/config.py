"""Configuration and data files: hjson (OpenTitan register and IP descriptions), YAML and JSON.

They are "config", except testplans ("verification"). Chunked in line windows with the code size budget.
"""
from __future__ import annotations

from pathlib import Path

from corpora.loaders.registry import Loaded, read_text, register


def config_or_testplan(source: str) -> str:
    """"verification" for a testplan, else "config"."""
    return "verification" if "testplan" in source.lower() else "config"


@register("hjson", suffixes=(".hjson",), kind=config_or_testplan, headings=None, strip_license=True)
@register("yaml", suffixes=(".yaml", ".yml"), kind=config_or_testplan, headings=None)
@register("json", suffixes=(".json", ".jsonl"), kind=config_or_testplan, headings=None)
def load(path: Path) -> Loaded:
    """The file's text as it is (encoding repaired, noted)."""
    return read_text(path)
