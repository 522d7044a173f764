"""Verilog and SystemVerilog: chunked by module/package/interface (tree-sitter); testbench files are
"verification", the rest "rtl"."""
from __future__ import annotations

import re
from pathlib import Path

from corpora.loaders.registry import Loaded, read_text, register

# testbench and verification folders or file names (dv/, tb/, tb_*.sv, *_tb.v, testplans)
VERIFICATION = re.compile(r"(^|/)(dv|tb|test|tests|testbench|verif|verification)(/|$)|(^|/)tb_|_tb\.s?v$|testplan", re.I)


def rtl_or_verification(source: str) -> str:
    """"verification" for testbench paths (`VERIFICATION`), else "rtl"."""
    return "verification" if VERIFICATION.search(source) else "rtl"


def code_or_verification(source: str) -> str:
    """"verification" for testbench paths (`VERIFICATION`), else "code"."""
    return "verification" if VERIFICATION.search(source) else "code"


@register("verilog", suffixes=(".v", ".vh"), kind=rtl_or_verification, headings=None, tree_sitter="verilog",
          strip_license=True)
@register("systemverilog", suffixes=(".sv", ".svh"), kind=rtl_or_verification, headings=None,
          tree_sitter="verilog", strip_license=True)
def load(path: Path) -> Loaded:
    """The source text (encoding repaired, noted)."""
    return read_text(path)
