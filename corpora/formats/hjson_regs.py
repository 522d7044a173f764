"""OpenTitan-style hjson register descriptions (``reggen``'s input: ``registers``, ``multireg``, ``skipto``,
``window``) as register sections: each register's offset is computed the way reggen lays them out.

Files without a ``registers`` list (testplans, configs) are not register files: ``load_register_hjson`` then
returns None, so the caller keeps its generic hjson handling for them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from corpora.formats import FormatError, Loaded
from corpora.formats.registers import Field, Register, parse_bits, parse_int, render_registers

MAX_EXPANDED = 256  # a multireg with more copies than this is summarised by its first copies (huge memories)


def _param(value: Any, params: dict[str, Any]) -> int | None:
    """A count or width that may name a parameter of ``param_list`` (its default)."""
    n = parse_int(value)
    return n if n is not None else parse_int(params.get(str(value)))


def _fields(spec: dict, reg_access: str) -> list[Field]:
    out = []
    for f in spec.get("fields") or []:
        msb, lsb = parse_bits(f.get("bits"))
        desc = " ".join(str(f.get("desc", "")).split())
        enums = f.get("enum") or []
        if enums:  # the field's values are often what a question is about ("which value selects ...")
            desc += " Values: " + "; ".join(f"{e.get('value')} = {e.get('name')}"
                                           + (f" ({' '.join(str(e.get('desc', '')).split())})" if e.get("desc") else "")
                                           for e in enums) + "."
        out.append(Field(name=str(f.get("name") or spec.get("name", "")), msb=msb, lsb=lsb,
                         access=str(f.get("swaccess") or reg_access), reset=str(f.get("resval", "") or ""),
                         desc=desc.strip()))
    return out


def _multireg(spec: dict, params: dict, width: int) -> list[tuple[str, str, list[Field]]]:
    """(name, desc, fields) per register a multireg expands to; one compacted register when its single field
    repeated ``count`` times fits the register width (reggen's ``compact``)."""
    count = _param(spec.get("count"), params) or 1
    access = str(spec.get("swaccess", ""))
    fields = _fields(spec, access)
    name, desc = str(spec.get("name")), str(spec.get("desc", ""))
    if len(fields) == 1 and fields[0].lsb is not None and spec.get("compact", True) not in (False, "false"):
        f = fields[0]
        fw = (f.msb - f.lsb + 1)
        per_reg = max(1, width // fw)
        regs = []
        for r in range(0, min(count, MAX_EXPANDED), per_reg):
            fs = [Field(f"{f.name}_{i}", f.lsb + (i - r) * fw + fw - 1, f.lsb + (i - r) * fw, f.access, f.reset, f.desc)
                  for i in range(r, min(count, r + per_reg))]
            regs.append((f"{name}_{r // per_reg}", desc, fs))
        return regs
    return [(f"{name}_{i}", desc, fields) for i in range(min(count, MAX_EXPANDED))]


def registers_from_hjson(data: dict) -> list[Register]:
    """The registers of one reggen description with their byte offsets."""
    width = parse_int(data.get("regwidth", 32)) or 32
    step = width // 8
    params = {str(p.get("name")): p.get("default") for p in data.get("param_list") or [] if isinstance(p, dict)}
    groups = data.get("registers") or []
    if isinstance(groups, dict):  # several bus interfaces: {core: [...], prim: [...]}
        groups = [item for items in groups.values() for item in items]
    regs: list[Register] = []
    addr = 0
    for item in groups:
        if not isinstance(item, dict):
            continue
        if "skipto" in item:
            addr = parse_int(item["skipto"]) or addr
        elif "reserved" in item:
            addr += step * (_param(item["reserved"], params) or 1)
        elif "window" in item:
            w = item["window"]
            items = _param(w.get("items"), params) or 1
            regs.append(Register(str(w.get("name")), addr, width, str(w.get("swaccess", "")), "",
                                 f"Memory window of {items} words. " + str(w.get("desc", ""))))
            addr += step * items
        elif "multireg" in item:
            for name, desc, fields in _multireg(item["multireg"], params, width):
                regs.append(Register(name, addr, width, str(item["multireg"].get("swaccess", "")), "", desc, fields))
                addr += step
        elif "name" in item:
            access = str(item.get("swaccess", ""))
            regs.append(Register(str(item["name"]), addr, width, access, str(item.get("resval", "") or ""),
                                 str(item.get("desc", "")), _fields(item, access)))
            addr += step
    return regs


def load_register_hjson(path: Path) -> Loaded | None:
    """A reggen register file as register sections; None when the file has no ``registers`` (not a register
    file); FormatError when it is not valid hjson."""
    import hjson

    path = Path(path)
    try:
        data = hjson.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (hjson.HjsonDecodeError, ValueError, RecursionError) as e:
        raise FormatError(path, f"malformed hjson: {e}") from e
    if not isinstance(data, dict) or not data.get("registers"):
        return None
    block = str(data.get("name") or path.stem)
    regs = registers_from_hjson(data)
    lines = render_registers(block, regs, str(data.get("one_line_desc", "") or ""))
    return Loaded("\n".join(lines), f"{block} registers", "registers", [],
                  {"format": "opentitan-hjson", "block": block, "registers": len(regs)})
