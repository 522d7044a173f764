"""One register model for every register format (Excel maps, IP-XACT, SystemRDL, OpenTitan hjson), and its
rendering as Markdown: one ``## NAME @ offset`` section per register with its fields as a pipe table.

A register section is what answers "which bit of which register does X": the heading names the register and
its offset, a sentence restates block, offset, width, access and reset in words (so dense and BM25 retrieval
both see them), and each field row gives its bits, access, reset and description.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from corpora.formats import pipe_table


@dataclass
class Field:
    """One bit field: ``msb``/``lsb`` inclusive (None when the source gave no bits)."""

    name: str
    msb: int | None = None
    lsb: int | None = None
    access: str = ""
    reset: str = ""
    desc: str = ""

    @property
    def bits(self) -> str:
        """``7:4`` or ``3`` (or '' when unknown)."""
        if self.lsb is None:
            return ""
        return str(self.lsb) if self.msb in (None, self.lsb) else f"{self.msb}:{self.lsb}"


@dataclass
class Register:
    """One register: ``offset`` in bytes from its block's base (None when unknown)."""

    name: str
    offset: int | None = None
    width: int | None = None
    access: str = ""
    reset: str = ""
    desc: str = ""
    fields: list[Field] = field(default_factory=list)


_BITS = re.compile(r"^\s*\[?\s*(\d+)\s*(?:[:\-]|\.\.)\s*(\d+)\s*\]?\s*$|^\s*\[?\s*(\d+)\s*\]?\s*$")


def parse_bits(text: object) -> tuple[int | None, int | None]:
    """(msb, lsb) from ``7:4``, ``[7:4]``, ``4..7``, ``7-4`` or ``3``; (None, None) when it is not a bit range."""
    m = _BITS.match(str(text if text is not None else ""))
    if not m:
        return None, None
    if m.group(3) is not None:
        b = int(m.group(3))
        return b, b
    a, b = int(m.group(1)), int(m.group(2))
    return max(a, b), min(a, b)


def parse_int(text: object) -> int | None:
    """An offset or value written as ``0x1C``, ``'h1c``, ``16'h001C``, ``1Ch``, ``0b101`` or decimal; else None."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        return int(text) if text.is_integer() else None
    s = str(text).strip().replace("_", "").lower()
    s = re.sub(r"^\d*'([hbd])", r"\1", s)  # Verilog-style sized literals
    try:
        if s.startswith("0x") or s.startswith("h"):
            return int(s.lstrip("h").removeprefix("0x"), 16)
        if s.endswith("h") and re.fullmatch(r"[0-9a-f]+h", s):
            return int(s[:-1], 16)
        if s.startswith("0b") or s.startswith("b"):
            return int(s.lstrip("b").removeprefix("0b"), 2)
        if s.startswith("d"):
            return int(s[1:])
        return int(s, 10)
    except ValueError:
        return None


def hex_value(value: object) -> str:
    """A reset/offset value as ``0x..`` when it is a number, else the text as given."""
    n = parse_int(value)
    return f"0x{n:x}" if n is not None else ("" if value is None else str(value).strip())


def render_registers(block: str, registers: list[Register], desc: str = "", level: int = 1) -> list[str]:
    """Markdown lines: a ``#`` heading for the block, then one ``##`` section per register with a field table."""
    h = "#" * level
    lines = [f"{h} {block} registers", ""]
    if desc:
        lines += [" ".join(desc.split()), ""]
    for reg in registers:
        off = f"0x{reg.offset:x}" if reg.offset is not None else "offset unknown"
        lines += [f"{h}# {reg.name} @ {off}", ""]
        if reg.desc:
            lines += [" ".join(reg.desc.split()), ""]
        facts = [f"offset {off}"] if reg.offset is not None else []
        facts += [f"width {reg.width} bits"] if reg.width else []
        facts += [f"access {reg.access}"] if reg.access else []
        facts += [f"reset {hex_value(reg.reset)}"] if reg.reset not in ("", None) else []
        names = ", ".join(f.name for f in reg.fields if f.name)
        lines += [f"Register {reg.name} of {block}: {', '.join(facts) or 'no offset given'}."
                  + (f" Fields: {names}." if names else ""), ""]
        if reg.fields:
            rows = [["Bits", "Field", "Access", "Reset", "Description"]]
            for f in sorted(reg.fields, key=lambda f: -(f.lsb if f.lsb is not None else -1)):
                rows.append([f.bits, f.name, f.access or reg.access, hex_value(f.reset), f.desc])
            lines += pipe_table(rows) + [""]
    return lines
