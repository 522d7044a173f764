"""Turn one file into text: by type (Markdown, reST, HTML, PDF, text, code, hjson/YAML/JSON, bug exports).

HTML headings are rewritten as Markdown headings, so one heading-aware chunker serves both.
"""
from __future__ import annotations

import re
from pathlib import Path

# extension -> doc_type
DOC_TYPES = {
    ".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".html": "html", ".htm": "html", ".pdf": "pdf",
    ".txt": "text", ".text": "text", ".log": "text",
    ".v": "verilog", ".vh": "verilog", ".sv": "systemverilog", ".svh": "systemverilog",
    ".tcl": "tcl", ".sdc": "tcl", ".xdc": "tcl", ".py": "python",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cxx": "cpp",
    ".hjson": "hjson", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonl": "json", ".csv": "text",
}
NAMED = {"readme": "text", "makefile": "text", "license": "text", "notice": "text"}
_VERIF = re.compile(r"(^|/)(dv|tb|test|tests|testbench|verif|verification)(/|$)|(^|/)tb_|_tb\.s?v$|testplan", re.I)


def doc_type_for(path: Path) -> str | None:
    """The loader type for a file name, or None when we do not know the format."""
    return DOC_TYPES.get(path.suffix.lower()) or NAMED.get(path.stem.lower() if not path.suffix else "")


def kind_for(source: str, doc_type: str) -> str:
    """Data category (corpora.types.KINDS) used for blends, token reports and filters."""
    if doc_type in ("verilog", "systemverilog"):
        return "verification" if _VERIF.search(source) else "rtl"
    if doc_type in ("hjson", "yaml", "json"):
        return "verification" if "testplan" in source.lower() else "config"
    if doc_type == "tcl":
        return "tcl"
    if doc_type in ("python", "c", "cpp"):
        return "verification" if _VERIF.search(source) else "code"
    return "docs"


def html_to_text(html: str) -> tuple[str, str | None]:
    """Readable text from HTML with headings as Markdown (#..######) and table rows as pipes; (text, title)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else None
    for level in range(1, 7):
        for h in soup.find_all(f"h{level}"):
            h.replace_with(f"\n\n{'#' * level} {h.get_text(' ', strip=True)}\n\n")
    for tr in soup.find_all("tr"):
        cells = [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
        tr.replace_with("| " + " | ".join(cells) + " |\n")
    for tag in soup.find_all(["p", "li", "pre", "div", "br"]):
        tag.insert_after("\n")
    text = soup.get_text()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text, title


def pdf_to_text(path: Path) -> tuple[str, str | None]:
    """Text of every page (pypdf); raises ValueError for a malformed PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(p.extract_text() or "") for p in reader.pages]
        meta = reader.metadata
        title = meta.title if meta and meta.title else None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as e:
        raise ValueError(f"malformed PDF: {type(e).__name__}: {e}") from e
    return "\n\n".join(pages), title


def title_for(text: str, doc_type: str, fallback: str) -> str:
    """First heading (Markdown/RST), Verilog module, or the file name."""
    for line_no, line in enumerate(text.split("\n")[:60]):
        s = line.strip()
        if doc_type in ("markdown", "html", "pdf", "text") and s.startswith("#") and s.lstrip("#").strip():
            return s.lstrip("#").strip()
        if doc_type == "rst" and s and line_no + 1 < len(text.split("\n")) and re.match(r"^[=\-~^*#]{3,}$", text.split("\n")[line_no + 1].strip()):
            return s
    return fallback
