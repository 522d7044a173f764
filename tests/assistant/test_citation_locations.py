"""Citations name the page (slide, sheet) a passage is on: `docs/dma.pdf p. 2` in the CLI, the Markdown the
UI and CLI jobs render, Slack lines, JSON sources and search hits; files without locations keep their lines."""
from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import load_settings
from assistant.jobs import get
from assistant.service import Assistant
from assistant.slack.format import source_line
from tests.support.documents import write_pdf

QUESTION = "Which errata does DONE_IRQ have on wrap?"


@pytest.fixture(scope="module")
def pdf_index(tmp_path_factory):
    """A real index of a two-page PDF (pages become locations) and a Markdown file (none)."""
    from corpora.chunking import ChunkConfig
    from retriever.config import IndexConfig
    from retriever.index import build_index

    root = tmp_path_factory.mktemp("located")
    (root / "docs").mkdir()
    write_pdf(root / "docs" / "dma.pdf")
    (root / "docs" / "uart.md").write_text(textwrap.dedent("""\
        # UART
        ## Baud rate
        The UART baud rate is set by the DIV field of the CTRL register.
        """), encoding="utf-8")
    out = tmp_path_factory.mktemp("located_index") / "index"
    small = ChunkConfig(max_chars=200, min_section_chars=0, overlap_chars=0)  # a chunk per page
    build_index([root], out, IndexConfig(chunking=small), progress=False)
    return out


@pytest.fixture(scope="module")
def bot(pdf_index, tmp_path_factory):
    return Assistant(load_settings(None, index_dir=pdf_index, data_dir=tmp_path_factory.mktemp("data")))


def test_cli_ask_cites_the_pdf_page(pdf_index):
    runner = CliRunner()
    shown = runner.invoke(app, ["ask", QUESTION, "--index", str(pdf_index), "-k", "2"],
                          catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "[1] docs/dma.pdf p. 2" in shown.stdout, shown.stdout
    as_json = runner.invoke(app, ["ask", QUESTION, "--index", str(pdf_index), "-k", "2",
                                  "--json"], catch_exceptions=False)
    first = json.loads(as_json.stdout)["sources"][0]
    assert first["path"] == "docs/dma.pdf" and first["location"] == "p. 2"


def test_markdown_and_slack_citations_show_the_page(bot):
    answer = bot.run("ask", {"question": QUESTION, "k": 2, "mode": "bm25"})
    markdown = get("ask").render_markdown(answer)
    assert "- [1] docs/dma.pdf p. 2 — " in markdown, markdown
    assert "[1] docs/dma.pdf p. 2 — " in answer.text  # the retrieval-only answer's passage list
    line = source_line(answer.sources[0])
    assert line.startswith("[1] `docs/dma.pdf` p. 2 — ") and "(lines" not in line


def test_passages_without_a_location_keep_their_lines(bot):
    answer = bot.run("ask", {"question": "How is the UART baud rate set?", "k": 1, "mode": "bm25"})
    source = answer.sources[0]
    assert source.path == "docs/uart.md" and source.location is None
    assert source.where() == f"docs/uart.md:{source.start_line}-{source.end_line}"
    assert source_line(source).endswith(f"(lines {source.start_line}-{source.end_line})")


def test_search_hits_carry_the_location(bot):
    hits = bot.run("search", {"query": "DONE_IRQ wrap errata", "k": 1, "mode": "bm25"}).hits
    assert hits[0].source == "docs/dma.pdf" and hits[0].location == "p. 2"
