"""Word (.docx/.docm) and PowerPoint (.pptx/.pptm) documents as Markdown-style text.

Word: heading styles (``Heading 1``..``Heading 9``, ``Title``, and custom styles based on them) become ``#``
headings, list styles ``-`` items, tables pipe rows, in document order. PowerPoint: slide by slide (location
``slide N``), the slide title as a ``#`` heading, then its text boxes, tables and speaker notes.
Macro-enabled files are read from a copy whose package says it is a plain document (the VBA part is dropped),
so the libraries accept it and no macro can ever run; an encrypted (password-protected) file is refused.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from corpora.formats import FormatError, Loaded, is_ole_container, pipe_table

_MACRO_TYPES = {  # macro-enabled main part content type -> the plain one the libraries accept
    b"application/vnd.ms-word.document.macroEnabled.main+xml":
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    b"application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml":
        b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}
_HEADING = re.compile(r"^heading\s*(\d)$", re.I)


def _open_package(path: Path) -> str | io.BytesIO:
    """The path, or for a macro-enabled file an in-memory copy without its VBA parts and with a plain type."""
    if is_ole_container(path):
        raise FormatError(path, "password-protected (encrypted) Office file: cannot be read without its password")
    if not zipfile.is_zipfile(path):
        raise FormatError(path, "not an Office Open XML file (not a zip package)")
    if path.suffix.lower() not in (".docm", ".pptm"):
        return str(path)
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if "vbaproject" in info.filename.lower() or "vbadata" in info.filename.lower():
                continue  # the macros themselves: never needed to read the text
            data = src.read(info)
            if info.filename == "[Content_Types].xml":
                for macro, plain in _MACRO_TYPES.items():
                    data = data.replace(macro, plain)
            dst.writestr(info, data)
    out.seek(0)
    return out


def _heading_level(style) -> int:
    """1-9 for heading styles (following ``based on`` chains, e.g. a custom "Spec Heading 2"), 0 otherwise."""
    seen = 0
    while style is not None and seen < 10:
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 1
        m = _HEADING.match(name)
        if m:
            return max(1, int(m.group(1)))
        style, seen = style.base_style, seen + 1
    return 0


def load_docx(path: Path) -> Loaded:
    """A Word document: headings from heading styles, lists as ``-`` items, tables as pipe rows."""
    import docx
    from docx.table import Table

    path = Path(path)
    try:
        document = docx.Document(_open_package(path))
    except FormatError:
        raise
    except Exception as e:  # python-docx raises ValueError/KeyError/lxml errors for damaged packages
        raise FormatError(path, f"not a readable Word document: {type(e).__name__}: {e}") from e
    lines: list[str] = []
    title = (document.core_properties.title or "").strip() or None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = [[cell.text for cell in row.cells] for row in block.rows]
            lines += ["", *pipe_table(rows), ""]
            continue
        text = block.text.strip()
        if not text:
            continue
        level = _heading_level(block.style)
        style = (block.style.name or "").lower() if block.style is not None else ""
        if level:
            lines += ["", f"{'#' * min(level, 6)} {' '.join(text.split())}", ""]
            title = title or " ".join(text.split())
        elif "list" in style:
            lines.append(f"- {text}")
        elif "source code" in style or "code" in style.split():
            lines += ["```", text, "```"]
        else:
            lines += [text, ""]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return Loaded(text, title, "docx", [], {"format": path.suffix.lower().lstrip(".")})


def _shape_lines(shape) -> list[str]:
    """Text of one slide shape (text frame, table, or a group's shapes), in reading order."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [line for s in shape.shapes for line in _shape_lines(s)]
    if getattr(shape, "has_table", False) and shape.has_table:
        return ["", *pipe_table([[c.text for c in row.cells] for row in shape.table.rows]), ""]
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        out = []
        for p in shape.text_frame.paragraphs:
            t = "".join(r.text for r in p.runs).strip() or p.text.strip()
            if t:
                out.append(f"{'  ' * p.level}- {t}" if p.level else t)
        return out + [""] if out else []
    return []


def load_pptx(path: Path) -> Loaded:
    """A PowerPoint deck slide by slide: ``# title`` (or ``# Slide N``), its text, tables and notes."""
    from pptx import Presentation

    path = Path(path)
    try:
        deck = Presentation(_open_package(path))
    except FormatError:
        raise
    except Exception as e:
        raise FormatError(path, f"not a readable PowerPoint file: {type(e).__name__}: {e}") from e
    lines: list[str] = []
    locations: list[tuple[int, str]] = []
    title = (deck.core_properties.title or "").strip() or None
    for n, slide in enumerate(deck.slides, 1):
        title_shape = slide.shapes.title
        heading = " ".join(title_shape.text.split()) if title_shape is not None and title_shape.has_text_frame else ""
        title = title or heading or None
        locations.append((len(lines), f"slide {n}"))
        lines += [f"# {heading or f'Slide {n}'}", ""]
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            lines += _shape_lines(shape)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text.strip() if slide.notes_slide.notes_text_frame else ""
            if notes:
                lines += [f"Notes: {' '.join(notes.split())}", ""]
    return Loaded("\n".join(lines).rstrip("\n"), title, "pptx", locations,
                  {"format": path.suffix.lower().lstrip("."), "slides": len(locations)})
