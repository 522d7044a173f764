"""The one heading parser: Markdown ATX headings (``## Title``) and reStructuredText titles (underlined or
over- and underlined), shared by the chunker (`corpora.chunking`), the loaders' titles (`corpora.loaders`)
and the training-data generator (`adapters.gendata`).

    from corpora.headings import headings
    for h in headings(text.split("\\n"), "markdown"):
        print(h.line, h.level, h.title)

Fenced code (```` ``` ```` / ``~~~``) never holds headings: a ``# comment`` in a shell block is not a title.
reST has no fixed levels: a style (its character, and whether it is overlined) takes the next level the first
time it appears, as docutils does (`RstLevels`).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Syntax = Literal["markdown", "rst"]

# CommonMark: up to three spaces may indent an ATX heading (four make an indented code block)
MD_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")
# a simple table's border ("=====  =====") looks like an underline when its table has a single column
RST_TABLE_BORDER = re.compile(r"^=+( +=+)+\s*$")


@dataclass(frozen=True)
class Heading:
    """One heading: ``line`` is the 0-based index of its first line, ``span`` how many lines it takes
    (1 for Markdown, 2 for an underlined reST title, 3 for an over- and underlined one)."""

    line: int
    level: int
    title: str
    span: int = 1


def is_fence(line: str) -> bool:
    """Whether ``line`` opens or closes a fenced code block."""
    return line.lstrip().startswith(("```", "~~~"))


def markdown_heading(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading line, else None."""
    m = MD_HEADING.match(line)
    return (len(m.group(1)), m.group(2).strip()) if m else None


def rst_heading(lines: list[str], i: int) -> tuple[tuple[str, str], str, int] | None:
    """The reST title starting at ``lines[i]``: (style, title, span), else None.

    ``style`` is ("over", char) for an over- and underlined title, ("under", char) for an underlined one; the
    underline must be at least as long as the title text."""
    line = lines[i]
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    if RST_UNDERLINE.match(line) and i + 2 < len(lines) and lines[i + 1].strip() and lines[i + 2] == line:
        return ("over", line[0]), lines[i + 1].strip(), 3
    if line.strip() and not RST_UNDERLINE.match(line) and RST_UNDERLINE.match(nxt) \
            and len(nxt.rstrip()) >= len(line.rstrip()) and not RST_TABLE_BORDER.match(nxt):
        return ("under", nxt[0]), line.strip(), 2
    return None


class RstLevels:
    """reST heading levels in order of first appearance of each style (1 = the first style seen)."""

    def __init__(self) -> None:
        self._styles: list[tuple[str, str]] = []

    def level(self, style: tuple[str, str]) -> int:
        """The level of ``style``, giving it the next level if it is new."""
        if style not in self._styles:
            self._styles.append(style)
        return self._styles.index(style) + 1


def headings(lines: list[str], syntax: Syntax) -> Iterator[Heading]:
    """Every heading of ``lines`` in ``syntax``, in order, skipping fenced code."""
    levels, fence, i = RstLevels(), False, 0
    while i < len(lines):
        line = lines[i]
        if is_fence(line):
            fence = not fence
        if not fence:
            if syntax == "rst":
                found = rst_heading(lines, i)
                if found:
                    style, title, span = found
                    yield Heading(i, levels.level(style), title, span)
                    i += span
                    continue
            elif (md := markdown_heading(line)) is not None:
                yield Heading(i, md[0], md[1])
        i += 1


def first_heading(text: str, syntax: Syntax, max_lines: int = 60) -> str | None:
    """The first heading's title within the first ``max_lines`` lines (a document's title), else None."""
    lines = text.split("\n")[:max_lines + 2]  # +2: a reST title on the last line still has its underline
    for h in headings(lines, syntax):
        return h.title if h.line < max_lines else None
    return None
