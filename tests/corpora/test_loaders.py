"""The format registry: a format registered in one place is read by ingest, looked up by suffix and name, and
its citation locations (pages, slides, sheets) reach each chunk; the shared heading parser."""
from __future__ import annotations

from pathlib import Path

import pytest

from corpora import loaders
from corpora.chunking import ChunkConfig, chunk_document
from corpora.headings import first_heading, headings
from corpora.ingest import IngestConfig, ingest
from corpora.loaders import Loaded, format_for, register
from corpora.types import Document
from tests.support.documents import write_pdf


@pytest.fixture()
def regmap_format():
    """A made-up register-map format (``.rmap``: "sheet NAME" lines, then "REG OFFSET" rows), registered only
    for the test, as a format module written elsewhere would be."""
    def load(path: Path) -> Loaded:
        lines, locations = [], []
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.startswith("sheet "):
                locations.append((len(lines), raw))
                lines += [f"# {raw[6:]}", "", "| Register | Offset |", "|---|---|"]
            elif raw.strip():
                name, offset = raw.split()
                lines.append(f"| {name} | {offset} |")
        return Loaded("\n".join(lines), title="Register map", locations=locations, meta={"sheets": len(locations)})

    register("regmap", suffixes=(".rmap",), kind="config")(load)
    yield load
    loaders.unregister("regmap")


def test_a_format_registered_elsewhere_is_ingested_and_chunked_with_locations(tmp_path, regmap_format):
    root = tmp_path / "c"
    root.mkdir()
    rows = "\n".join(f"REG{i} 0x{4 * i:x}" for i in range(40))
    (root / "uart.RMAP").write_text(f"sheet Regs\n{rows}\nsheet Fields\nCTRL_EN 0x0\nCTRL_TX 0x1\n", encoding="utf-8")
    (root / "notes.md").write_text("# Notes\n\nThe register map lives in uart.rmap.\n", encoding="utf-8")
    result = ingest([root], progress=False)
    docs = {d.source: d for d in result.documents}
    doc = docs["uart.RMAP"]
    assert (doc.doc_type, doc.kind, doc.title) == ("regmap", "config", "Register map")
    assert doc.metadata["sheets"] == 2 and [label for _, label in doc.locations] == ["sheet Regs", "sheet Fields"]
    assert "| REG39 | 0x9c |" in doc.text
    chunks = chunk_document(doc, ChunkConfig(max_chars=300, overlap_chars=0))
    assert len(chunks) > 2
    by_label = {c.location for c in chunks}
    assert by_label == {"sheet Regs", "sheet Fields"}
    fields = [c for c in chunks if "CTRL_EN" in c.text]
    assert fields and all(c.location == "sheet Fields" and c.metadata["location"] == "sheet Fields" for c in fields)
    assert all(c.location == "sheet Regs" for c in chunks if "REG1 " in c.text)
    # prose format: chunked by its Markdown headings with the prose budget, not by line windows
    assert {c.title.split(" (part")[0] for c in chunks} == {"Regs", "Fields"}
    assert docs["notes.md"].locations == [] and all(c.location is None for c in chunk_document(docs["notes.md"]))


def test_unregistered_format_is_plain_text_or_dropped(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "uart.rmap").write_text("sheet Regs\nCTRL 0x0\n", encoding="utf-8")
    result = ingest([root], progress=False)
    assert [(d.source, d.doc_type) for d in result.documents] == [("uart.rmap", "text")]
    result = ingest([root], IngestConfig(include_unknown_text=False), progress=False)
    assert not result.documents and "unknown file type (.rmap)" in result.report.to_markdown()


def test_lookup_by_suffix_and_name():
    assert format_for(Path("rtl/UART.SV")).doc_type == "systemverilog"
    assert format_for(Path("flow/Makefile")).doc_type == "text" and format_for(Path("README")).doc_type == "text"
    assert format_for(Path("docs/guide.rst")).headings == "rst"
    assert format_for(Path("a.unknownext")) is None and format_for(Path("noext")) is None
    assert loaders.get("verilog").kind_for("dv/tb_uart.v") == "verification"
    assert loaders.get("verilog").kind_for("rtl/uart.v") == "rtl"
    assert loaders.get("hjson").kind_for("hw/ip/uart/data/uart_testplan.hjson") == "verification"
    assert {"markdown", "rst", "html", "pdf", "text", "verilog", "tcl", "python", "hjson", "yaml", "json"} <= {
        f.doc_type for f in loaders.formats()}


def test_registration_conflicts_and_compound_suffixes():
    def load(path: Path) -> Loaded:
        return Loaded("x")

    with pytest.raises(ValueError, match=r"suffix \.md belongs to 'markdown'"):
        register("mymd", suffixes=(".md",))(load)
    with pytest.raises(ValueError, match="'markdown' is already registered"):
        register("markdown", suffixes=(".mkd",))(load)
    assert format_for(Path("a.md")).doc_type == "markdown" and loaders.get("mymd") is None
    try:
        register("tarball-notes", suffixes=(".notes.txt",), names=("changes",))(load)
        assert format_for(Path("x/Release.NOTES.txt")).doc_type == "tarball-notes"  # longest suffix wins
        assert format_for(Path("x/plain.txt")).doc_type == "text"
        assert format_for(Path("CHANGES")).doc_type == "tarball-notes"
        register("mymd", suffixes=(".md",), replace=True)(load)  # a better loader takes a suffix over
        assert format_for(Path("a.md")).doc_type == "mymd" and loaders.get("markdown").suffixes  # still by type
    finally:
        loaders.unregister("tarball-notes")
        loaders.unregister("mymd")
        loaders.add(loaders.get("markdown"), replace=True)  # give .md back
    assert format_for(Path("a.md")).doc_type == "markdown" and format_for(Path("CHANGES")) is None


def test_pdf_pages_become_chunk_locations(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    write_pdf(root / "dma.pdf")
    doc = ingest([root], progress=False).documents[0]
    assert [label for _, label in doc.locations] == ["p. 1", "p. 2"]
    chunks = chunk_document(doc, ChunkConfig(max_chars=200, min_section_chars=0, overlap_chars=0))
    located = {c.location: c.text for c in chunks}
    assert "DONE_IRQ" in located["p. 2"] and "descriptors" in located["p. 1"]


def test_locations_follow_the_text_when_leading_lines_are_cut(tmp_path, regmap_format):
    root = tmp_path / "c"
    root.mkdir()
    (root / "x.rmap").write_text("\n\nsheet A\nR1 0x0\nsheet B\nR2 0x4\n", encoding="utf-8")

    def load(path: Path) -> Loaded:  # a loader whose text starts with blank lines (ingest strips them)
        return Loaded("\n\n# A\nR1\n# B\nR2\n", locations=[(0, "front"), (2, "sheet A"), (4, "sheet B")])

    register("regmap", suffixes=(".rmap",), replace=True)(load)
    doc = ingest([root], progress=False).documents[0]
    assert doc.text.startswith("# A") and doc.locations == [(0, "sheet A"), (2, "sheet B")]


def test_chunk_location_is_the_label_of_its_first_line_or_the_span_it_covers():
    text = "\n".join(f"line {i} " + "x" * 40 for i in range(30))
    doc = Document(source="s", title="s", doc_type="text", kind="docs", text=text,
                   locations=[(0, "p. 1"), (10, "p. 2"), (20, "p. 3")])
    chunks = chunk_document(doc, ChunkConfig(max_chars=200, overlap_chars=0))
    for c in chunks:
        first, last = (c.start_line - 1) // 10 + 1, (c.end_line - 1) // 10 + 1
        assert c.location == (f"p. {first}" if first == last else f"p. {first}–{last}"), (c.start_line, c.location)
    assert {c.location for c in chunks} >= {"p. 1", "p. 2", "p. 3"} and "p. 1–2" in {c.location for c in chunks}
    slides = Document(source="s", title="s", doc_type="text", kind="docs", text="a\nb\nc",
                      locations=[(0, "sheet Regs"), (2, "notes")])
    assert chunk_document(slides)[0].location == "sheet Regs – notes"  # unlike labels: both, spelled out
    assert type(c).from_dict(c.to_dict()).location == c.location  # kept in metadata: survives a round trip


# -- the shared heading parser -------------------------------------------------------------------------------------
def test_markdown_headings_skip_fences_and_closing_hashes():
    text = "# UART ##\n\ntext\n\n```sh\n# not a heading\n```\n\n## Registers\n#nospace\n### CTRL\n"
    found = [(h.line, h.level, h.title) for h in headings(text.split("\n"), "markdown")]
    assert found == [(0, 1, "UART"), (8, 2, "Registers"), (10, 3, "CTRL")]
    assert first_heading("#!/bin/sh\n# Flow notes\n", "markdown") == "Flow notes"
    # CommonMark: up to three spaces indent a heading, four make indented code
    lines = [" ## Authors", "    # code comment", "   ### Three"]
    assert [(h.level, h.title) for h in headings(lines, "markdown")] == [(2, "Authors"), (3, "Three")]


def test_rst_headings_levels_by_first_appearance_overlines_and_tables():
    text = ("=====\nGuide\n=====\n\nIntro.\n\nSection\n=======\n\nBody.\n\nSub\n---\n\nAgain\n=======\n\n"
            "=====  =====\nName   Value\n=====  =====\nA      1\n=====  =====\n\nToo long title\n---\n")
    found = [(h.line, h.level, h.title, h.span) for h in headings(text.split("\n"), "rst")]
    # the overlined "=" style is not the underlined "=" style; a table border and a short underline are no titles
    assert found == [(0, 1, "Guide", 3), (6, 2, "Section", 2), (11, 3, "Sub", 2), (14, 2, "Again", 2)]
    assert first_heading("Intro\n\nTitle\n-----\n", "rst") == "Title"


def test_rst_chunks_and_gendata_use_the_same_headings():
    from adapters.gendata import rst_to_markdown

    text = "=====\nGuide\n=====\n\nIntro text that is long enough to be kept.\n\nSection\n-------\n\nMore text here.\n"
    doc = Document(source="g.rst", title="g", doc_type="rst", kind="docs", text=text)
    titles = [c.title for c in chunk_document(doc, ChunkConfig(min_section_chars=0))]
    assert titles == ["Guide", "Guide > Section"]  # the overline belongs to the title, not to a section before it
    md = rst_to_markdown(text)
    assert [h.title for h in headings(md.split("\n"), "markdown")] == ["Guide", "Section"]
    assert md.startswith("# Guide\n") and "\n## Section\n" in md
