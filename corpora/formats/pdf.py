"""PDF with its structure: headings from font size (and the outline, when the file has one), ruled tables as
pipe rows, a ``p. N`` location where each page starts, running headers/footers and page numbers removed.

pdfplumber (MIT, on pdfminer.six) gives every character with its font and size, and finds ruled tables;
pypdfium2 (Apache/BSD) reads the outline. Body text is the most common font size; larger sizes are heading
levels, largest first. Lines in the top/bottom margin whose text (digits ignored) recurs on most pages are
running headers/footers ("Spec v1.2 - Confidential", "Page 3 of 40") and are dropped, as are bare page
numbers there. An encrypted PDF (one that needs a password to open) or one without a text layer (scanned
images) raises FormatError naming the file, so ingest reports it instead of indexing empty text.
Known limits: multi-column pages are read line by line across the columns; borderless tables come out as lines.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from corpora.formats import FormatError, Loaded, pipe_table

MARGIN = 0.09  # top/bottom share of the page height where running headers and footers live
HEADING_RATIO = 1.12  # a line at least this much larger than body text is a heading
MAX_HEADING_CHARS = 150
_PAGE_NO = re.compile(r"^\W*(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?\W*$", re.I)


def _check_encryption(path: Path) -> None:
    """FormatError when the PDF needs a password; an owner-password-only PDF (empty user password) is read."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FormatError(path, "encrypted PDF: it needs a password to open, so its text cannot be indexed")
    except FormatError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, NotImplementedError) as e:
        # NotImplementedError: an encryption algorithm pypdf cannot undo (it needs a password or a crypto library)
        if "encrypt" in str(e).lower() or isinstance(e, NotImplementedError):
            raise FormatError(path, f"encrypted PDF: {e}") from e
        raise FormatError(path, f"malformed PDF: {type(e).__name__}: {e}") from e


def _outline(path: Path) -> dict[tuple[int, str], int]:
    """{(page index, normalised title): level} from the PDF outline (bookmarks); {} when there is none."""
    import pypdfium2

    out: dict[tuple[int, str], int] = {}
    try:
        pdf = pypdfium2.PdfDocument(str(path))
        try:
            for item in pdf.get_toc(max_depth=6):
                dest = item.get_dest()  # pypdfium2 >= 5: bookmarks expose getters
                page, title = (dest.get_index() if dest else None), item.get_title()
                if page is not None and title:
                    out[(page, _key(title))] = item.level + 1
        finally:
            pdf.close()
    except Exception:  # a broken outline must not lose the text: headings then come from font sizes alone
        return {}
    return out


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _line_info(line: dict) -> dict:
    chars = [c for c in line["chars"] if c["text"].strip()]
    sizes = [round(c["size"], 1) for c in chars] or [0.0]
    fonts = [c.get("fontname", "") for c in chars]
    return {"text": line["text"].strip(), "top": line["top"], "bottom": line["bottom"], "x0": line["x0"],
            # the line's size is its most common one: inline code is set smaller than the prose around it
            "x1": line["x1"], "size": Counter(sizes).most_common(1)[0][0], "n": len(chars),
            "bold": bool(fonts) and all(re.search(r"bold|black|heavy", f, re.I) for f in fonts),
            "mono": bool(fonts) and sum(bool(re.search(r"mono|courier|consol", f, re.I)) for f in fonts) > len(fonts) / 2}


def _in_box(line: dict, box: tuple[float, float, float, float]) -> bool:
    x0, top, x1, bottom = box
    mid = (line["top"] + line["bottom"]) / 2
    return top - 1 <= mid <= bottom + 1 and line["x1"] >= x0 and line["x0"] <= x1


def _running_keys(pages: list[list[dict]], heights: list[float]) -> set[str]:
    """Margin-line texts (digits masked) that recur on at least half the pages (and on two or more)."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for lines, h in zip(pages, heights):
        keys = {re.sub(r"\d+", "#", _key(l["text"])) for l in lines if l["top"] < h * MARGIN or l["bottom"] > h * (1 - MARGIN)}
        counts.update(keys)
    need = max(2, (len(pages) + 1) // 2)
    return {k for k, n in counts.items() if n >= need}


def load_pdf(path: Path) -> Loaded:
    """A PDF as Markdown-style text with headings, pipe tables and ``p. N`` locations."""
    import pdfplumber

    path = Path(path)
    _check_encryption(path)
    outline = _outline(path)
    try:
        pdf = pdfplumber.open(str(path))
    except Exception as e:
        raise FormatError(path, f"malformed PDF: {type(e).__name__}: {e}") from e
    with pdf:
        pages, tables, heights, images = [], [], [], 0
        try:
            for page in pdf.pages:
                found = page.find_tables()
                tables.append([(t.bbox, t.extract()) for t in found])
                pages.append([_line_info(l) for l in page.extract_text_lines(return_chars=True) if l["text"].strip()])
                heights.append(float(page.height))
                images += len(page.images)
        except Exception as e:  # pdfminer raises many types for damaged content streams
            raise FormatError(path, f"malformed PDF: {type(e).__name__}: {e}") from e
        title = (pdf.metadata or {}).get("Title")
    chars = sum(l["n"] for lines in pages for l in lines)
    if chars < 5 * max(1, len(pages)) // 2:
        what = "image-only: no text layer (scanned pages? run OCR first)" if images else "no extractable text"
        raise FormatError(path, f"{what}; {len(pages)} page(s)")
    running = _running_keys(pages, heights)
    body_size = Counter({s: 0 for s in [0.0]})
    for lines in pages:
        for l in lines:
            if not l["mono"]:  # code blocks are often most of a tool manual: prose sets the body size
                body_size[l["size"]] += l["n"]
    body = body_size.most_common(1)[0][0]
    heading_sizes = sorted({l["size"] for lines in pages for l in lines
                            if l["size"] >= body * HEADING_RATIO and len(l["text"]) <= MAX_HEADING_CHARS}, reverse=True)
    levels = {s: min(i + 1, 6) for i, s in enumerate(heading_sizes[:5])}
    bold_level = min(len(levels) + 1, 6)

    out: list[str] = []
    locations: list[tuple[int, str]] = []
    para: list[str] = []
    prev: dict | None = None

    def flush() -> None:
        if para:
            out.extend([para_text(para), ""])
            para.clear()

    def line_no() -> int:  # the 0-based line the next element of ``out`` starts on (elements may hold "\n")
        return sum(e.count("\n") + 1 for e in out)

    for n, (lines, page_tables, h) in enumerate(zip(pages, tables, heights)):
        blocks: list[tuple[float, str, object]] = []
        for l in lines:
            in_margin = l["top"] < h * MARGIN or l["bottom"] > h * (1 - MARGIN)
            if in_margin and (re.sub(r"\d+", "#", _key(l["text"])) in running or _PAGE_NO.match(l["text"])):
                continue
            if any(_in_box(l, box) for box, _ in page_tables):
                continue
            blocks.append((l["top"], "line", l))
        for box, rows in page_tables:
            blocks.append((box[1], "table", rows))
        blocks.sort(key=lambda b: b[0])
        first = next((b[2] for b in blocks if b[1] == "line"), None) if blocks and blocks[0][1] == "line" else None
        if not (para and first and not para[-1].rstrip().endswith((".", ":", "!", "?"))
                and first["text"][:1].islower()):
            flush()  # a new page starts a new paragraph unless the sentence runs on
        # after the flush: the page starts at its own first line; when a sentence runs on from the last page,
        # that paragraph keeps the page it started on and this page starts after it (flush adds it + a blank)
        carried = para_text(para).count("\n") + 2 if para else 0
        locations.append((line_no() + carried, f"p. {n + 1}"))
        prev = None

        for _, kind, item in blocks:
            if kind == "table":
                flush()
                # a cell's wrapped lines: "with -\ntiming" is "-timing" (see para_text)
                out.extend([*pipe_table([[re.sub(r"-\n(?=\w)", "-", c or "") for c in row] for row in item]), ""])
                prev = None
                continue
            l = item
            level = outline.get((n, _key(l["text"]))) or levels.get(l["size"])
            if not level and l["bold"] and l["size"] >= body and len(l["text"]) <= 80 \
                    and not l["text"].endswith((".", ",", ";", ":")) and (prev is None or l["top"] - prev["bottom"] > l["size"] * 0.6):
                level = bold_level
            if level and len(l["text"]) <= MAX_HEADING_CHARS:
                flush()
                if out and out[-1].startswith("#") and prev is not None and prev.get("level") == level \
                        and l["top"] - prev["bottom"] < l["size"]:
                    out[-1] += " " + l["text"]  # a heading wrapped over two lines
                else:
                    out.extend([f"{'#' * level} {l['text']}", ""])
                    if not title:
                        title = l["text"]
                prev = {**l, "level": level}
                continue
            # a paragraph break is a line pitch well above the body's (1.2-1.5x the font size within one)
            if prev is not None and l["top"] - prev["top"] > max(body, l["size"]) * 1.9:
                flush()
            if l["mono"]:
                para.append("\n" + l["text"] if para else l["text"])  # code keeps its lines
            else:
                para.append(l["text"])
            prev = l
    flush()
    text = "\n".join(out).rstrip("\n")
    return Loaded(text, title or None, "pdf", locations, {"format": "pdf", "pages": len(pages)})


def para_text(parts: list[str]) -> str:
    """Join a paragraph's lines; a line ending in ``-`` joins the next without a space (``with -`` +
    ``timing_driven`` is the option ``-timing_driven``; ``well-`` + ``known`` is ``well-known``)."""
    text = ""
    for part in parts:
        if part.startswith("\n"):
            text += part
        elif text.endswith("-") and part[:1].isalnum():
            text += part
        else:
            text += (" " if text else "") + part
    return text
