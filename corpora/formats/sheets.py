"""Spreadsheets (.xlsx/.xlsm via openpyxl, read-only and data-only; .csv) with register-map detection.

A sheet whose header row names a register (or name) column and an offset or bit-range column is a register
map, whatever the exact column names ("Reg Name", "Address", "Bit Range", "SW Access", "Default"...): it
becomes one ``## REGISTER @ offset`` section per register with its fields as a pipe table
(corpora.formats.registers). Any other sheet becomes a plain pipe table. Sheets are capped at ``MAX_ROWS`` rows
with a note saying how many were left out. Macros are never run (openpyxl only reads the XML parts; VBA is
not even loaded); an encrypted (password-protected) workbook is refused with a FormatError.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from corpora.formats import FormatError, Loaded, is_ole_container, pipe_table
from corpora.formats.registers import Field, Register, parse_bits, parse_int, render_registers

MAX_ROWS = 2000  # rows kept per sheet; a larger sheet is cut with a note
MAX_COLS = 40
HEADER_SCAN = 10  # the header row is looked for in the first rows (titles and notes often come first)

# role -> header spellings (lower case, punctuation removed); the exact ones are tried before substrings
ROLES: dict[str, tuple[str, ...]] = {
    "register": ("register", "register name", "reg", "reg name", "regname", "registers", "csr", "csr name"),
    "offset": ("offset", "address", "addr", "address offset", "byte offset", "addr offset", "reg offset",
               "register offset", "relative address"),
    "field": ("field", "field name", "fieldname", "bitfield", "bit field", "bitfield name", "fields"),
    "bits": ("bits", "bit", "bit range", "bitrange", "bit s", "bit position", "bit field range", "msb lsb",
             "msblsb", "position", "range"),
    "msb": ("msb", "high bit", "upper bit"),
    "lsb": ("lsb", "low bit", "lower bit", "bit offset"),
    "width": ("width", "bit width", "size", "bits width", "length"),
    "access": ("access", "sw", "sw access", "swaccess", "software access", "type", "rw", "r w", "access type",
               "attribute", "attr", "mode", "permission"),
    "reset": ("reset", "reset value", "default", "default value", "resval", "init", "initial value", "por",
              "reset val"),
    "desc": ("description", "desc", "comment", "comments", "notes", "note", "function", "details", "meaning"),
    "name": ("name",),
}


_SUBSTRING_ORDER = ("desc", "offset", "reset", "width", "msb", "lsb", "bits", "access", "field", "register", "name")


def _norm(header: Any) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", str(header or "").lower()).split())


def detect_columns(header: list[Any]) -> dict[str, int]:
    """{role: column index} for a header row: exact spellings first, then headers that contain one."""
    cols: dict[str, int] = {}
    names = [_norm(h) for h in header]
    for exact in (True, False):
        # substring pass: the more specific roles first ("Register Description" is a description column)
        for role in ROLES if exact else _SUBSTRING_ORDER:
            spellings = ROLES[role]
            if role in cols:
                continue
            for i, h in enumerate(names):
                if not h or i in cols.values():
                    continue
                if (h in spellings) if exact else any(re.search(rf"\b{re.escape(s)}\b", h) for s in spellings
                                                       if len(s) > 2):
                    cols[role] = i
                    break
    return cols


def is_register_map(cols: dict[str, int]) -> bool:
    """A register map names its registers (register, or name + offset) and locates them (offset or bits)."""
    has_reg = "register" in cols or ("name" in cols and "offset" in cols)
    has_place = "offset" in cols or "bits" in cols or "lsb" in cols
    return has_reg and has_place and len(cols) >= 3


def _cell(row: list[Any], cols: dict[str, int], role: str) -> str:
    i = cols.get(role)
    v = row[i] if i is not None and i < len(row) else None
    return "" if v is None else " ".join(str(v).split())


def registers_from_rows(rows: list[list[Any]], cols: dict[str, int]) -> list[Register]:
    """Registers from the data rows of a register-map sheet.

    Two layouts are read: a register column repeated (or left blank, as merged cells read) on every field
    row, and a register row (with its offset) followed by field rows with a blank register cell. The
    register's ``name`` column is the field name when a register column exists, else the register name.
    """
    regs: list[Register] = []
    current: Register | None = None
    name_is_field = "register" in cols and "field" not in cols
    for row in rows:
        reg_name = _cell(row, cols, "register") or ("" if "register" in cols else "")
        if "register" not in cols and _cell(row, cols, "offset"):
            reg_name = _cell(row, cols, "name")  # register-row layout without a register column
        offset = _cell(row, cols, "offset")
        if reg_name and (current is None or reg_name != current.name or (offset and parse_int(offset) != current.offset)):
            current = Register(reg_name, parse_int(offset))
            regs.append(current)
        if current is None:
            continue
        if offset and current.offset is None:
            current.offset = parse_int(offset)
        field_name = _cell(row, cols, "field") or (_cell(row, cols, "name") if name_is_field else "")
        msb, lsb = parse_bits(_cell(row, cols, "bits"))
        if lsb is None and _cell(row, cols, "lsb"):
            lsb = parse_int(_cell(row, cols, "lsb"))
            msb = parse_int(_cell(row, cols, "msb"))
            width = parse_int(_cell(row, cols, "width"))
            if msb is None and lsb is not None:
                msb = lsb + (width or 1) - 1
        access, reset, desc = _cell(row, cols, "access"), _cell(row, cols, "reset"), _cell(row, cols, "desc")
        if field_name or lsb is not None:
            current.fields.append(Field(field_name or current.name, msb, lsb, access, reset, desc))
        else:  # a register row: its own access, reset and description
            current.access = current.access or access
            current.reset = current.reset or reset
            current.desc = current.desc or desc
    return regs


def sheet_lines(name: str, rows: list[list[Any]], total_rows: int, block: str) -> list[str]:
    """Markdown for one sheet: register sections when it is a register map, else a pipe table."""
    lines = [f"# sheet {name}", ""]
    header_at = next((i for i, r in enumerate(rows[:HEADER_SCAN]) if is_register_map(detect_columns(r))), None)
    if header_at is not None:
        cols = detect_columns(rows[header_at])
        regs = registers_from_rows(rows[header_at + 1:], cols)
        lines += render_registers(f"{block} {name}", regs, level=2)
    else:
        lines += pipe_table([r[:MAX_COLS] for r in rows]) + [""]
    if total_rows > len(rows):
        lines += [f"(sheet {name} cut: the first {len(rows)} of {total_rows} rows are indexed)", ""]
    return lines


def _assemble(path: Path, sheets: list[tuple[str, list[list[Any]], int]], doc_type: str, fmt: str) -> Loaded:
    lines: list[str] = []
    locations: list[tuple[int, str]] = []
    for name, rows, total in sheets:
        locations.append((len(lines), f"sheet {name}"))
        lines += sheet_lines(name, rows, total, path.stem)
    return Loaded("\n".join(lines), path.stem, doc_type, locations,
                  {"format": fmt, "sheets": [s[0] for s in sheets]})


def load_xlsx(path: Path) -> Loaded:
    """Every sheet of an .xlsx/.xlsm workbook (cached values, never formulas or macros), in order."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    path = Path(path)
    if is_ole_container(path):
        raise FormatError(path, "password-protected (encrypted) workbook: cannot be read without its password")
    try:
        wb = load_workbook(path, read_only=True, data_only=True, keep_vba=False, keep_links=False)
    except (InvalidFileException, KeyError, ValueError, OSError) as e:
        raise FormatError(path, f"not a readable workbook: {type(e).__name__}: {e}") from e
    except Exception as e:  # zipfile.BadZipFile and XML errors from a damaged file
        raise FormatError(path, f"not a readable workbook: {type(e).__name__}: {e}") from e
    sheets = []
    try:
        for ws in wb.worksheets:
            rows: list[list[Any]] = []
            total = 0
            for row in ws.iter_rows(values_only=True):
                if not any(v not in (None, "") for v in row):
                    continue
                total += 1
                if len(rows) < MAX_ROWS:
                    rows.append(list(row[:MAX_COLS]))
            sheets.append((ws.title, rows, total))
    finally:
        wb.close()
    return _assemble(path, sheets, "spreadsheet", "xlsx")


def load_csv(path: Path) -> Loaded:
    """A CSV (or TSV/semicolon) file as one sheet named after the file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[Any]] = []
    total = 0
    for row in csv.reader(io.StringIO(text), dialect):
        if not any(c.strip() for c in row):
            continue
        total += 1
        if len(rows) < MAX_ROWS:
            rows.append(row[:MAX_COLS])
    return _assemble(path, [(path.stem, rows, total)], "spreadsheet", "csv")
