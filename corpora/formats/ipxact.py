"""IP-XACT (IEEE 1685-2009/2014/2022) register descriptions as register sections.

Parsed with defusedxml, DTDs forbidden: an entity-expansion bomb ("billion laughs") or an external entity
(XXE: ``<!ENTITY x SYSTEM "file:///etc/passwd">``) is refused with a FormatError instead of being expanded
or fetched. Element names are matched without their namespace, so every IP-XACT revision (``spirit:``,
``ipxact:``) reads the same.
"""
from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from corpora.formats import FormatError, Loaded
from corpora.formats.registers import Field, Register, hex_value, parse_int, render_registers


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: Element, name: str) -> Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: Element | None, name: str, default: str = "") -> str:
    c = _child(el, name) if el is not None else None
    return " ".join((c.text or "").split()) if c is not None and c.text else default


def _reset(el: Element) -> str:
    """A register's or field's reset value: ``<reset><value>`` (2009) or ``<resets><reset><value>`` (2014+)."""
    reset = _child(el, "reset")
    if reset is None and (resets := _child(el, "resets")) is not None:
        reset = _child(resets, "reset")
    return _text(reset, "value") if reset is not None else ""


def _registers(parent: Element, base: int, prefix: str, inherited_access: str) -> list[Register]:
    """Registers of an addressBlock or registerFile (nested register files get ``FILE.`` name prefixes)."""
    out = []
    for el in parent:
        kind = _local(el.tag)
        if kind == "registerFile":
            off = parse_int(_text(el, "addressOffset")) or 0
            out += _registers(el, base + off, f"{prefix}{_text(el, 'name')}.", inherited_access)
        elif kind == "register":
            access = _text(el, "access", inherited_access)
            fields = []
            for f in _children(el, "field"):
                lsb = parse_int(_text(f, "bitOffset")) or 0
                width = parse_int(_text(f, "bitWidth")) or 1
                fields.append(Field(_text(f, "name"), lsb + width - 1, lsb, _text(f, "access", access),
                                    _reset(f), _text(f, "description")))
            off = parse_int(_text(el, "addressOffset"))
            out.append(Register(prefix + _text(el, "name"), None if off is None else base + off,
                                parse_int(_text(el, "size")), access, _reset(el), _text(el, "description"), fields))
    return out


def parse_ipxact(data: bytes, path: Path) -> tuple[str, list[tuple[str, list[Register]]]]:
    """(component name, [(block heading, registers)]) from IP-XACT XML; FormatError for unsafe or bad XML."""
    import defusedxml.ElementTree as ET
    from defusedxml import DefusedXmlException

    try:
        root = ET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as e:  # DTD, entity declarations, external references
        raise FormatError(path, f"unsafe XML refused ({type(e).__name__}): DTDs and entities are not allowed") from e
    except ParseError as e:
        raise FormatError(path, f"malformed XML: {e}") from e
    if _local(root.tag) != "component":
        raise FormatError(path, f"not an IP-XACT component (root element <{_local(root.tag)}>)")
    component = _text(root, "name") or path.stem
    blocks = []
    for mm in root.iter():
        if _local(mm.tag) != "memoryMap":
            continue
        for ab in _children(mm, "addressBlock"):
            base = parse_int(_text(ab, "baseAddress")) or 0
            regs = _registers(ab, 0, "", _text(ab, "access"))
            heading = f"{component} {_text(mm, 'name')}.{_text(ab, 'name')} (base {hex_value(base)})"
            blocks.append((heading, regs))
    return component, blocks


def load_ipxact(path: Path) -> Loaded:
    """An IP-XACT component file as one ``#`` section per address block and ``##`` per register."""
    path = Path(path)
    component, blocks = parse_ipxact(path.read_bytes(), path)
    lines: list[str] = []
    for heading, regs in blocks:
        lines += render_registers(heading, regs)
    if not lines:
        raise FormatError(path, "IP-XACT component has no memory map registers")
    return Loaded("\n".join(lines), f"{component} registers", "registers", [],
                  {"format": "ip-xact", "block": component, "registers": sum(len(r) for _, r in blocks)})
