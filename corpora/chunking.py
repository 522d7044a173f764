"""Structure-aware chunking: documents by heading, code by tree-sitter unit, one bug per chunk.

    from corpora.chunking import chunk_document, ChunkConfig
    chunks = chunk_document(doc, ChunkConfig(max_chars=1200))

Sizes fit all-MiniLM-L6-v2's 256-token window (~4 characters a token for prose, fewer for code): a
section or unit longer than `max_chars` is split at paragraph (or line) boundaries, keeping its
heading path or unit name as the title of every part, so each part still says where it comes from.
Code and config get their own, smaller budget (`code_max_chars`): they tokenize at fewer characters a token.
Which splitter a document gets is its format's (`corpora.loaders`: heading syntax, tree-sitter grammar), and
headings are found by `corpora.headings`. A chunk of a document with locations (PDF pages, slides, sheets)
records where it is in ``metadata["location"]`` (``Chunk.location``): "p. 3", or "p. 3–4" across a break.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

from corpora import loaders
from corpora.headings import MD_HEADING, Syntax, headings, is_fence
from corpora.types import Chunk, Document

# tree-sitter node types that make one retrievable unit, and the word shown before their name
_UNITS = {
    "module_declaration": "module", "package_declaration": "package", "interface_declaration": "interface",
    "class_declaration": "class", "procedure": "proc", "function_definition": "function",
    "class_definition": "class", "decorated_definition": "function",
}


class ChunkConfig(BaseModel):
    """Chunk sizes: the largest prose and code chunk, the window overlap, the smallest section.

    Typed and closed, so a mistyped key fails when the config is loaded, naming ``chunking.<key>``."""

    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(1200, ge=200, le=20000, description="largest prose chunk, in characters")
    # Code tokenizes at ~2.5 characters a token against ~4.5 for prose (measured with the MiniLM tokenizer
    # on ../shared/corpora), so the same window holds far fewer characters of RTL, Tcl or hjson.
    code_max_chars: int = Field(600, ge=200, le=20000, description="largest code/config chunk, in characters")
    overlap_chars: int = Field(150, ge=0, description="overlap between line-window parts (fallback splitter)")
    min_section_chars: int = Field(40, ge=0, description="sections shorter than this merge into the next")

    @model_validator(mode="after")
    def _check(self) -> "ChunkConfig":
        if self.overlap_chars >= min(self.max_chars, self.code_max_chars) // 2:
            raise ValueError("chunking.overlap_chars must be less than half of chunking.max_chars and code_max_chars")
        return self


@dataclass
class _Piece:
    title: str
    text: str
    start: int  # 1-based lines
    end: int
    meta: dict


def chunk_document(doc: Document, config: ChunkConfig | None = None) -> list[Chunk]:
    """Split one Document into Chunks by its structure; ids are f"{source}#{i}".

    How is decided by the document's format (`corpora.loaders`): sections by heading where it has a heading
    syntax, tree-sitter units where it has a grammar, else line windows; one bug per chunk. Where the document
    has locations (PDF pages, slides), each chunk's ``metadata["location"]`` is the label of its first line,
    or a span ("p. 3–4") when its text runs onto the next.
    """
    config = config or ChunkConfig()
    fmt = loaders.get(doc.doc_type)
    syntax = fmt.headings if fmt else None
    if not syntax and doc.doc_type != "bug":
        config = config.model_copy(update={"max_chars": config.code_max_chars})
    if doc.doc_type == "bug":
        pieces = _bug_pieces(doc, config)
    elif fmt and fmt.tree_sitter:
        pieces = _code_pieces(doc, config, fmt.tree_sitter)
    elif syntax:
        pieces = _prose_pieces(doc, config, syntax)
    else:
        pieces = _windows(doc.text, doc.title, 1, config)
    starts = [line for line, _ in doc.locations]
    chunks = []
    for piece in pieces:
        if not piece.text.strip():
            continue
        meta = {**{k: v for k, v in doc.metadata.items() if isinstance(v, (str, int, float, bool))}, **piece.meta}
        if starts and (location := _location(doc, starts, piece)):
            meta["location"] = location
        chunks.append(Chunk(
            id=f"{doc.source}#{len(chunks)}", source=doc.source, title=piece.title, text=piece.text.strip("\n"),
            doc_type=doc.doc_type, kind=doc.kind, acl=list(doc.acl), start_line=piece.start, end_line=piece.end,
            metadata=meta,
        ))
    return chunks


def _location(doc: Document, starts: list[int], piece: "_Piece") -> str | None:
    """The label of the piece's first text line, or a span when its text runs onto a later page or slide:
    "p. 3", "p. 3–4", "sheet Regs – sheet Notes" (a reader looks on every page the passage covers)."""
    first = bisect.bisect_right(starts, _first_text_line(piece) - 1)
    if not first:
        return None
    lines = piece.text.rstrip().split("\n")
    last = bisect.bisect_right(starts, piece.start + len(lines) - 2)
    a, b = doc.locations[first - 1][1], doc.locations[max(first, last) - 1][1]
    if a == b:
        return a
    (pa, _, na), (pb, _, nb) = a.rpartition(" "), b.rpartition(" ")
    return f"{pa} {na}–{nb}" if pa and pa == pb else f"{a} – {b}"


def _first_text_line(piece: "_Piece") -> int:
    """1-based line of the piece's first non-blank line: a chunk that starts on the blank line before a page
    break is still cited by the page its text is on."""
    lines = piece.text.split("\n")
    return piece.start + next((n for n, line in enumerate(lines) if line.strip()), 0)


# -- prose: sections by heading -------------------------------------------------------------------
def _sections(doc: Document, syntax: Syntax) -> list[tuple[list[str], int, list[str]]]:
    """(heading path, first line number, lines) per section (`corpora.headings`: fenced code holds none)."""
    lines = doc.text.split("\n")
    sections: list[tuple[list[str], int, list[str]]] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []
    start, i = 1, 0
    for h in headings(lines, syntax):
        current.extend(lines[i:h.line])
        if current:
            sections.append(([t for _, t in path], start, current))
        while path and path[-1][0] >= h.level:
            path.pop()
        path.append((h.level, h.title))
        current, start, i = lines[h.line:h.line + h.span], h.line + 1, h.line + h.span
    current.extend(lines[i:])
    if current:
        sections.append(([t for _, t in path], start, current))
    return sections


def _prose_pieces(doc: Document, config: ChunkConfig, syntax: Syntax) -> list[_Piece]:
    pieces: list[_Piece] = []
    carry: list[str] = []  # a heading-only (or near-empty) section is carried into the next one
    carry_start, carry_title = 0, doc.title
    for path, start, lines in _sections(doc, syntax):
        title = " > ".join(path) if path else doc.title
        if carry:
            lines, start = carry + lines, carry_start
            carry = []
        body = "\n".join(lines)
        content = "\n".join(l for l in lines if not MD_HEADING.match(l)).strip()
        if len(content) < config.min_section_chars and path:
            carry, carry_start, carry_title = lines, start, title
            continue
        if len(body) <= config.max_chars:
            pieces.append(_Piece(title, body, start, start + len(lines) - 1, {}))
        else:
            pieces.extend(_paragraph_split(lines, title, start, config))
    if carry:
        pieces.append(_Piece(carry_title, "\n".join(carry), carry_start, carry_start + len(carry) - 1, {}))
    return pieces


def _paragraph_split(lines: list[str], title: str, start: int, config: ChunkConfig) -> list[_Piece]:
    """Pack paragraphs (blank-line separated, fences kept whole) into parts of at most max_chars."""
    paras: list[tuple[int, list[str]]] = []
    cur: list[str] = []
    cur_start, fence = start, False
    for offset, line in enumerate(lines):
        if is_fence(line):
            fence = not fence
        if not line.strip() and not fence:
            if cur:
                paras.append((cur_start, cur))
            cur, cur_start = [], start + offset + 1
            continue
        if not cur:
            cur_start = start + offset
        cur.append(line)
    if cur:
        paras.append((cur_start, cur))
    heading = lines[0] if lines and MD_HEADING.match(lines[0]) else ""
    pieces: list[_Piece] = []
    buf: list[str] = []
    buf_start = start
    for p_start, p_lines in paras:
        text = "\n".join(p_lines)
        if len(text) > config.max_chars:  # one huge paragraph or code block: line windows
            if buf:
                pieces.append(_Piece(title, "\n\n".join(buf), buf_start, p_start - 1, {}))
                buf = []
            pieces.extend(_windows(text, title, p_start, config))
            continue
        if buf and sum(len(b) + 2 for b in buf) + len(text) > config.max_chars:
            pieces.append(_Piece(title, "\n\n".join(buf), buf_start, p_start - 1, {}))
            buf = [heading] if heading and len(heading) + 2 + len(text) <= config.max_chars else []
        if not buf or buf == [heading]:
            buf_start = p_start
        buf.append(text)
    if buf:
        pieces.append(_Piece(title, "\n\n".join(buf), buf_start, start + len(lines) - 1, {}))
    return pieces


def _split_line(line: str, limit: int) -> list[str]:
    """An over-long line cut into parts of at most ``limit`` characters that join back to it exactly.

    Cuts fall after the last space in the second half of a part where there is one, so words stay whole."""
    parts: list[str] = []
    while len(line) > limit:
        cut = line.rfind(" ", limit // 2, limit) + 1 or limit
        parts.append(line[:cut])
        line = line[cut:]
    parts.append(line)
    return parts


def _windows(text: str, title: str, first_line: int, config: ChunkConfig, meta: dict | None = None) -> list[_Piece]:
    """Fallback: windows of whole lines up to max_chars, overlapping by about overlap_chars.

    A line longer than max_chars (minified code, a one-line table, an 800-character port list) is cut into
    parts that go into consecutive windows, so every character of it is kept: nothing is ever dropped here.
    """
    limit = max(config.max_chars, 1)
    # (text, 0-based line, joiner before it): "" continues the previous part's line, "\n" starts a new one
    units = [(part, n, "" if k else "\n")
             for n, line in enumerate(text.split("\n")) for k, part in enumerate(_split_line(line, limit))]
    pieces: list[_Piece] = []
    i = 0
    while i < len(units):
        size, j = 0, i
        while j < len(units) and (j == i or size + len(units[j][2]) + len(units[j][0]) <= limit):
            size += len(units[j][0]) + (len(units[j][2]) if j > i else 0)
            j += 1
        part = units[i][0] + "".join(joiner + u for u, _, joiner in units[i + 1:j])
        pieces.append(_Piece(title, part, first_line + units[i][1], first_line + units[j - 1][1], dict(meta or {})))
        if j >= len(units):
            break
        back, k = 0, j
        while k > i + 1 and back + len(units[k - 1][0]) + 1 <= config.overlap_chars:
            back += len(units[k - 1][0]) + 1
            k -= 1
        i = k
    if len(pieces) > 1:
        for n, p in enumerate(pieces, 1):
            p.title = f"{title} (part {n})"
    return pieces


# -- code: tree-sitter units ----------------------------------------------------------------------
@lru_cache(maxsize=None)
def _parser(lang: str):
    from tree_sitter_language_pack import get_parser

    return get_parser(lang)


def _unit_name(node) -> str:
    """The declared name of a module/proc/function node, found by walking its first identifiers."""
    stack = list(node.children)
    while stack:
        n = stack.pop(0)
        if n.type in ("simple_identifier", "identifier", "simple_word", "name") and n.text:
            return n.text.decode("utf-8", "replace")
        if n.type in ("module_header", "module_keyword", "function_declarator", "declarator", "function_definition",
                      "class_definition", "package_identifier", "interface_identifier", "class_identifier"):
            stack = list(n.children) + stack
    return "?"


def _module_ports(node) -> list[str]:
    """Port names of a Verilog module: from its ANSI header, else from its `input`/`output` declarations.
    Only the header and top-level port declarations are walked, never the body's instances."""
    ports: list[str] = []
    stack = [c for c in node.children if c.type in ("module_ansi_header", "module_nonansi_header", "port_declaration")
             or (c.type == "module_or_generate_item" and c.child_count and c.children[0].type == "port_declaration")]
    while stack:
        n = stack.pop(0)
        if n.type == "port_identifier" and n.text:
            ports.append(n.text.decode("utf-8", "replace"))
        elif n.type not in ("parameter_port_list", "list_of_ports"):
            stack = list(n.children) + stack
    return list(dict.fromkeys(ports))


def _code_pieces(doc: Document, config: ChunkConfig, grammar: str) -> list[_Piece]:
    try:
        tree = _parser(grammar).parse(doc.text.encode("utf-8"))
    except Exception:  # a grammar failure must never lose the file: fall back to line windows
        return _windows(doc.text, doc.title, 1, config)
    lines = doc.text.split("\n")
    pieces: list[_Piece] = []
    pending_start = 0  # 0-based line where text not yet emitted begins (comments before a unit belong to it)
    loose: list[tuple[int, int]] = []  # spans of top-level code that is not a unit

    def emit_loose(until: int) -> None:
        if pending_start < until:
            loose.append((pending_start, until))

    for node in tree.root_node.children:
        kind = _UNITS.get(node.type)
        if kind is None:
            continue
        s, e = node.start_point[0], node.end_point[0]
        lead = s
        while lead > pending_start and (not lines[lead - 1].strip() or lines[lead - 1].lstrip().startswith(("//", "#", "/*", "*"))):
            lead -= 1  # attach the comment block above a unit to it: it documents the unit
        emit_loose(lead)
        name = _unit_name(node)
        if node.type == "decorated_definition":
            inner = node.children[-1]
            kind = "class" if inner.type == "class_definition" else "function"
            name = _unit_name(inner)
        text = "\n".join(lines[lead:e + 1])
        title = f"{kind} {name}"
        meta = {"unit": kind, "name": name}
        if node.type == "module_declaration" and (ports := _module_ports(node)):
            meta["ports"] = ports
        if len(text) <= config.max_chars:
            pieces.append(_Piece(title, text, lead + 1, e + 1, meta))
        else:
            pieces.extend(_windows(text, title, lead + 1, config, meta))
        pending_start = e + 1
    emit_loose(len(lines))
    for s, e in loose:
        text = "\n".join(lines[s:e])
        if text.strip():
            pieces.extend(_windows(text, f"{doc.title} (lines {s + 1}-{e})", s + 1, config))
    pieces.sort(key=lambda p: p.start)
    return pieces


# -- bugs: one per chunk --------------------------------------------------------------------------
def _bug_pieces(doc: Document, config: ChunkConfig) -> list[_Piece]:
    lines = doc.text.split("\n")
    if len(doc.text) <= config.max_chars:
        return [_Piece(doc.title, doc.text, 1, len(lines), {})]
    header = "\n".join(lines[:2])  # id + title repeated in every part: a part alone still names its bug
    if len(header) > config.max_chars // 2:  # a giant title would crowd out the text: split the whole bug instead
        return _windows(doc.text, doc.title, 1, config)
    parts = _windows("\n".join(lines[2:]), doc.title, 3, config.model_copy(update={"max_chars": config.max_chars - len(header) - 1}))
    for p in parts:
        p.text = header + "\n" + p.text
    return parts
