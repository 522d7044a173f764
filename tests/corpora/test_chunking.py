"""Chunking follows structure: headings, Verilog modules, Tcl procs, Python defs, bugs; sizes fit the window."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from corpora.chunking import ChunkConfig, chunk_document
from corpora.ingest import ingest
from corpora.types import Document


def _doc(text, doc_type, kind="docs", source="f"):
    return Document(source=source, title=source, doc_type=doc_type, kind=kind, text=text)


def test_markdown_by_heading_with_path_titles():
    text = "# UART\n\nIntro to the UART block and its features.\n\n## Registers\n\n### CTRL\n\nCTRL.EN enables the transmitter and receiver.\n\n## Baud\n\nWrite BAUD_DIV = clk / (16 * baud).\n"
    chunks = chunk_document(_doc(text, "markdown"))
    titles = [c.title for c in chunks]
    assert titles == ["UART", "UART > Registers > CTRL", "UART > Baud"]
    ctrl = chunks[1]
    assert "## Registers" in ctrl.text and "CTRL.EN" in ctrl.text  # heading-only parent merged into the child
    assert ctrl.start_line == 5 and chunks[0].id == "f#0"


def test_long_section_split_at_paragraphs_keeps_title_and_fences():
    paras = "\n\n".join(f"Paragraph {i} " + "word " * 60 for i in range(12))
    code = "```tcl\n" + "\n".join(f"puts {i}" for i in range(10)) + "\n```"
    chunks = chunk_document(_doc(f"# Big\n\n{paras}\n\n{code}\n", "markdown"), ChunkConfig(max_chars=800))
    assert len(chunks) > 3 and all(len(c.text) <= 800 for c in chunks)
    assert all(c.title == "Big" for c in chunks)
    assert any(c.text.count("```") == 2 for c in chunks)  # the fenced block stays whole


def test_verilog_tcl_python_units():
    v = "// UART transmitter\nmodule uart_tx(input clk, output tx);\n  assign tx = clk;\nendmodule\n\nmodule uart_rx(input rx);\nendmodule\n"
    chunks = chunk_document(_doc(v, "verilog", "rtl"))
    assert [c.title for c in chunks] == ["module uart_tx", "module uart_rx"]
    assert chunks[0].text.startswith("// UART transmitter") and chunks[0].metadata["name"] == "uart_tx"
    assert chunks[0].metadata["ports"] == ["clk", "tx"] and chunks[1].metadata["ports"] == ["rx"]
    non_ansi = "module sync(a, y);\n  input a;\n  output y;\n  inner u (.p(a), .q(y));\nendmodule\n"
    assert chunk_document(_doc(non_ansi, "verilog", "rtl"))[0].metadata["ports"] == ["a", "y"]  # not instance pins
    tcl = "set out /tmp/x\nproc read_design {top} {\n  yosys read_verilog $top.v\n}\nproc report_area {} {\n  yosys stat\n}\nread_design uart\n"
    titles = [c.title for c in chunk_document(_doc(tcl, "tcl", "tcl"))]
    assert "proc read_design" in titles and "proc report_area" in titles and len(titles) == 4
    py = "import os\n\ndef f(x):\n    return x\n\nclass Flow:\n    def run(self):\n        pass\n"
    assert [c.title for c in chunk_document(_doc(py, "python", "code"))][1:] == ["function f", "class Flow"]


def test_fallback_windows_for_unparsed_types_and_long_units():
    text = "\n".join(f"key_{i}: value number {i} with some padding text" for i in range(200))
    chunks = chunk_document(_doc(text, "yaml", "config"), ChunkConfig(code_max_chars=500, overlap_chars=100))
    assert len(chunks) > 10 and all(len(c.text) <= 500 for c in chunks)  # code/config use the code budget
    assert chunks[1].start_line <= chunks[0].end_line  # windows overlap
    long_module = "module big(input a);\n" + "\n".join(f"  wire w{i} = a;" for i in range(300)) + "\nendmodule\n"
    parts = chunk_document(_doc(long_module, "verilog", "rtl"), ChunkConfig(code_max_chars=600))
    assert len(parts) > 1 and all(p.title.startswith("module big (part") for p in parts)


def test_sample_corpus_chunks_fit_the_embedding_window(sample_dir):
    docs = ingest([sample_dir], progress=False).documents
    chunks = [c for d in docs for c in chunk_document(d)]
    assert max(len(c.text) for c in chunks) <= ChunkConfig().max_chars
    bug = [c for c in chunks if c.source == "bugs/bugs.jsonl#PICO-110"]
    assert bug and all("PICO-110" in c.text for c in bug)  # every part of a long bug names it
    assert len({c.id for c in chunks}) == len(chunks)


def test_bad_chunk_config_is_rejected():
    with pytest.raises(ValidationError, match="overlap_chars"):
        ChunkConfig(max_chars=400, overlap_chars=300)
    with pytest.raises(ValidationError):
        ChunkConfig(max_chars=10)


def _long_line(n: int) -> str:
    words = ("clock", "reset", "divisor", "baud", "fifo", "parity", "strobe", "enable")
    out, size = [], 0
    while size < n:
        out.append(f"{words[len(out) % len(words)]}{len(out)}")
        size += len(out[-1]) + 1
    return " ".join(out)[:n]


@pytest.mark.parametrize("doc_type,wrap", [
    ("markdown", "# Notes\n\n{}\n\nA short closing paragraph.\n"),   # prose: sections -> paragraphs -> windows
    ("text", "{}\n"),
    ("yaml", "table: {}\n"),                                           # fallback line windows
    ("python", "import os\n\ndef f():\n    return '{}'\n"),           # a tree-sitter unit longer than the budget
])
def test_a_million_character_line_is_split_across_chunks_not_cut(doc_type, wrap):
    line = _long_line(1_000_000)
    config = ChunkConfig()
    chunks = chunk_document(_doc(wrap.format(line), doc_type, "docs" if doc_type in ("markdown", "text") else "code"),
                            config)
    limit = config.max_chars if doc_type in ("markdown", "text") else config.code_max_chars
    assert all(len(c.text) <= limit for c in chunks)
    assert line in "".join(c.text for c in chunks)  # every character kept, in order, parts joined back exactly
    assert len(chunks) >= 1_000_000 // limit


def test_a_long_verilog_port_line_keeps_its_last_signal():
    ports = ", ".join(f"input  wire [31:0] cfg_reg_{i:02d}_i" for i in range(24))
    line = f"module csr_bank ({ports}, output wire irq_summary_o);"
    line = line[:-len(" output wire irq_summary_o);")].ljust(844 - len(" output wire irq_summary_o);")) + \
        " output wire irq_summary_o);"
    assert len(line) == 844
    chunks = chunk_document(_doc(line + "\nendmodule\n", "verilog", "rtl"))
    assert all(len(c.text) <= ChunkConfig().code_max_chars for c in chunks)
    assert any("irq_summary_o" in c.text for c in chunks)
    assert line in "".join(c.text for c in chunks)
