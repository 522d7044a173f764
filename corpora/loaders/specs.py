"""The spec formats chip teams keep, registered: structured PDF, Word, PowerPoint, Excel/CSV register maps,
IP-XACT, SystemRDL and OpenTitan-style hjson register files (the parsers live in `corpora.formats`).

Each registration maps suffixes to a `corpora.formats` loader (they return the registry's `Loaded`). Where
a structured parser meets a file it is not for, the file keeps the plain handling it had before these formats
existed, so adding them never drops a file that used to be indexed:

- a PDF pdfplumber cannot parse (but which is not encrypted or image-only) is read page by page with pypdf;
- an ``.xml`` file that is not an IP-XACT component is indexed as text (it is never parsed as XML then);
- an ``.hjson`` file without ``registers`` (a testplan, an IP description) or one hjson cannot parse is
  indexed as text in line windows, as before.
"""
from __future__ import annotations

from pathlib import Path

from corpora.formats import FormatError
from corpora.loaders import pdf as plain_pdf
from corpora.loaders.config import config_or_testplan
from corpora.loaders.registry import Loaded, read_text, register


@register("pdf", suffixes=(".pdf",), generated_header=False, replace=True)
def load_pdf(path: Path) -> Loaded:
    """Headings from font sizes or the outline, ruled tables as pipe rows, "p. N" locations, running headers
    and footers removed; encrypted or image-only PDFs are refused (ValueError naming why)."""
    from corpora.formats.pdf import load_pdf as structured

    try:
        return structured(path)
    except FormatError as e:
        if not e.reason.startswith("malformed PDF"):
            raise
        fallback = plain_pdf.load(path)  # pypdf is more forgiving of broken files; plain text beats nothing
        fallback.meta.setdefault("notes", []).append(f"{Path(path).name}: read as plain text ({e.reason})")
        return fallback


@register("docx", suffixes=(".docx", ".docm"), generated_header=False)
def load_docx(path: Path) -> Loaded:
    """Word: heading styles as ``#`` headings, tables as pipe rows; macros never loaded."""
    from corpora.formats.office import load_docx as load

    return load(path)


@register("pptx", suffixes=(".pptx", ".pptm"), generated_header=False)
def load_pptx(path: Path) -> Loaded:
    """PowerPoint: slide by slide ("slide N" locations), titles as headings, tables and notes kept."""
    from corpora.formats.office import load_pptx as load

    return load(path)


@register("spreadsheet", suffixes=(".xlsx", ".xlsm", ".csv"), generated_header=False, replace=True)  # .csv was text
def load_sheet(path: Path) -> Loaded:
    """Excel/CSV: register maps as one section per register with its fields, other sheets as tables
    ("sheet NAME" locations); ingest tries a .csv as a bug export first."""
    from corpora.formats.sheets import load_csv, load_xlsx

    return load_csv(path) if Path(path).suffix.lower() == ".csv" else load_xlsx(path)


@register("registers", suffixes=(".rdl",), kind="config", generated_header=False)
def load_systemrdl(path: Path) -> Loaded:
    """SystemRDL compiled by systemrdl-compiler into register sections (embedded Perl and includes outside
    the file's folder refused)."""
    from corpora.formats.systemrdl import load_systemrdl as load

    return load(path)


@register("ipxact", suffixes=(".xml",), kind="config", generated_header=False)
def load_xml(path: Path) -> Loaded:
    """IP-XACT (IEEE 1685) memory maps as register sections, parsed without DTDs or entities; other XML as
    text."""
    from corpora.formats.ipxact import load_ipxact

    try:
        return load_ipxact(path)
    except FormatError as e:
        if not e.reason.startswith("not an IP-XACT component"):
            raise
        loaded = read_text(path)
        loaded.doc_type = "text"
        return loaded


@register("hjson", suffixes=(".hjson",), kind=config_or_testplan, headings=None, strip_license=True, replace=True)
def load_hjson(path: Path) -> Loaded:
    """An OpenTitan register file as register sections (offsets computed as reggen lays them out); any other
    hjson file as it is."""
    from corpora.formats.hjson_regs import load_register_hjson

    try:
        registers = load_register_hjson(path)
    except FormatError as e:
        loaded = read_text(path)
        loaded.meta.setdefault("notes", []).append(f"{e}: indexed as text")
        return loaded
    return registers if registers is not None else read_text(path)
