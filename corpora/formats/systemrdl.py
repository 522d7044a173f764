"""SystemRDL 2.0 register descriptions (compiled and elaborated by ``systemrdl-compiler``) as register sections.

Two parts of the language would make reading a file do more than read it, so they are refused before the
compiler sees the file: embedded Perl (``<% ... %>``, which the compiler hands to a ``perl`` process) and
``include``s that leave the file's own folder (they would read, and quote in error messages, any file).
"""
from __future__ import annotations

import re
from pathlib import Path

from corpora.formats import FormatError, Loaded
from corpora.formats.registers import Field, Register, render_registers

_INCLUDE = re.compile(r'`include\s+"([^"]+)"')
MAX_REGISTERS = 5000  # arrays unrolled past this are cut (with a note): a 64K-entry array is a memory, not a map


def _check_source(path: Path, root: Path, depth: int = 0) -> None:
    """Refuse Perl preprocessor tags and includes outside ``root``, in ``path`` and what it includes."""
    if depth > 16:
        raise FormatError(path, "SystemRDL includes nested more than 16 deep")
    text = path.read_text(encoding="utf-8", errors="replace")
    if "<%" in text:
        raise FormatError(path, "SystemRDL embedded Perl (<% %>) is not run: refused")
    for name in _INCLUDE.findall(text):
        target = (path.parent / name).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise FormatError(path, f"SystemRDL include {name!r} is outside the file's folder or missing: refused")
        _check_source(target, root, depth + 1)


def load_systemrdl(path: Path) -> Loaded:
    """Every addrmap/regfile of a SystemRDL file as a ``#`` section, its registers as ``##`` sections."""
    from systemrdl import RDLCompileError, RDLCompiler
    from systemrdl.messages import MessagePrinter
    from systemrdl.node import AddrmapNode, RegfileNode, RegNode

    path = Path(path)
    _check_source(path, path.parent.resolve())
    messages: list[str] = []

    class _Collect(MessagePrinter):  # keep the compiler's messages for the error instead of printing them
        def emit_message(self, lines: list[str]) -> None:
            messages.extend(lines)

    rdlc = RDLCompiler(message_printer=_Collect())
    try:
        rdlc.compile_file(str(path))
        root = rdlc.elaborate()
    except RDLCompileError as e:
        detail = next((m for m in messages if "error" in m.lower()), str(e))
        raise FormatError(path, f"SystemRDL does not compile: {detail.strip()}") from e

    blocks: dict[str, list[Register]] = {}
    count, cut = 0, False
    for node in root.descendants(unroll=True):
        if not isinstance(node, RegNode):
            continue
        if count >= MAX_REGISTERS:
            cut = True
            break
        count += 1
        parent = node.parent
        if not isinstance(parent, (AddrmapNode, RegfileNode)):  # a register inside a mem: keep its addrmap
            parent = root.top
        block = f"{parent.get_path()} (base 0x{parent.absolute_address:x})"
        fields = []
        for f in node.fields():
            reset = f.get_property("reset")
            sw = f.get_property("sw")
            desc = f.get_property("desc") or ""
            label = f.get_property("name")
            if label and label != f.inst_name:
                desc = f"{label}. {desc}".strip()
            fields.append(Field(f.inst_name, f.msb, f.lsb, getattr(sw, "name", str(sw)),
                                "" if reset is None or not isinstance(reset, int) else hex(reset), desc))
        label = node.get_property("name")
        desc = node.get_property("desc") or (label if label != node.inst_name else "") or ""
        blocks.setdefault(block, []).append(Register(
            node.get_path().removeprefix(parent.get_path() + "."), node.absolute_address - parent.absolute_address,
            node.get_property("regwidth"), "", "", desc, fields))
    lines: list[str] = []
    for block, regs in blocks.items():
        lines += render_registers(block, regs)
    if cut:
        lines += [f"(register list cut at {MAX_REGISTERS} registers)"]
    if not lines:
        raise FormatError(path, "SystemRDL file defines no registers")
    top = root.top.inst_name
    return Loaded("\n".join(lines), f"{top} registers", "registers", [],
                  {"format": "systemrdl", "block": top, "registers": count})
