"""The spec formats (corpora/formats) registered in the loader registry (corpora/loaders/specs.py): a folder of
real Word, PowerPoint, Excel, CSV, IP-XACT, SystemRDL, hjson and PDF files is ingested, chunked and indexed
with no other code knowing the formats; register questions find their register; files a structured parser
is not for keep their plain handling; unreadable ones are dropped with the reason."""
from __future__ import annotations

import json

import pytest

from corpora.ingest import ingest
from corpora.loaders import format_for
from tests.corpora.test_formats_office import _docx, _encrypt, _regmap_xlsx
from tests.corpora.test_formats_registers import IPXACT_2014, XXE
from tests.support.documents import write_pdf

RDL = """addrmap timer {
    reg { field { sw = rw; hw = r; desc = "Start the countdown."; } START[0:0] = 0; } CTRL @ 0x0;
    reg { field { sw = r; hw = w; desc = "Counter wrapped."; } WRAP[4:4] = 0; } STATUS @ 0x4;
};
"""
HJSON = """{
  name: "gpio",
  one_line_desc: "General purpose I/O",
  regwidth: "32",
  registers: [
    { name: "DIRECT_OE", desc: "Output enable of every pin.", swaccess: "rw", hwaccess: "hro",
      fields: [{ bits: "31:0", name: "oe", desc: "1 drives the pin" }] },
    { name: "DATA_IN", desc: "Sampled pin values.", swaccess: "ro", hwaccess: "hwo",
      fields: [{ bits: "31:0", name: "in", desc: "pin levels" }] },
  ]
}
"""
TESTPLAN = """{ name: "gpio", testpoints: [{ name: "smoke", desc: "Toggle every pin.", stage: "V1", tests: ["gpio_smoke"] }] }
"""


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    root = tmp_path_factory.mktemp("specs")
    _docx(root / "uart_spec.docx")
    _regmap_xlsx(root / "uart_regs.xlsx")
    (root / "uart.xml").write_text(IPXACT_2014, encoding="utf-8")
    (root / "pins.xml").write_text("<pins><pin name='tx'/><pin name='rx'/></pins>\n", encoding="utf-8")
    (root / "timer.rdl").write_text(RDL, encoding="utf-8")
    (root / "gpio.hjson").write_text(HJSON, encoding="utf-8")
    (root / "gpio_testplan.hjson").write_text(TESTPLAN, encoding="utf-8")
    (root / "evil.xml").write_text(XXE, encoding="utf-8")
    _encrypt(_docx(root / "plain.docx"), root / "locked.docx")
    (root / "plain.docx").unlink()
    filler = "\n".join(f"Descriptor word {i} holds the source, length and flags of one DMA transfer." for i in range(18))
    write_pdf(root / "dma.pdf", (f"The DMA engine walks a linked list of descriptors.\n{filler}",
                                 f"Errata: DONE_IRQ fires twice on wrap; mask the second interrupt.\n{filler}"))
    return root


@pytest.fixture(scope="module")
def ingested(specs):
    return ingest([specs], progress=False)


def test_every_spec_format_is_routed_by_the_registry(specs):
    routed = {p.name: format_for(p).doc_type for p in sorted(specs.iterdir())}
    assert routed["uart_spec.docx"] == "docx" and routed["uart_regs.xlsx"] == "spreadsheet"
    assert routed["uart.xml"] == "ipxact" and routed["timer.rdl"] == "registers"
    assert routed["gpio.hjson"] == "hjson" and routed["dma.pdf"] == "pdf"
    assert format_for(specs / "pins.csv").doc_type == "spreadsheet"  # was plain text


def test_documents_keep_their_structure_and_locations(ingested):
    docs = {d.source: d for d in ingested.documents}
    assert docs["uart_spec.docx"].doc_type == "docx" and "# Pico UART" in docs["uart_spec.docx"].text
    sheet = docs["uart_regs.xlsx"]
    assert "## CTRL @ 0x10" in sheet.text and "NCO" in sheet.text and "sheet Regs" in dict(sheet.locations).values()
    assert docs["uart.xml"].doc_type == "registers" and "TX_EN" in docs["uart.xml"].text
    assert docs["timer.rdl"].doc_type == "registers" and "WRAP" in docs["timer.rdl"].text
    gpio = docs["gpio.hjson"]
    assert gpio.doc_type == "registers" and "DIRECT_OE" in gpio.text and "0x4" in gpio.text  # offsets computed
    plan = docs["gpio_testplan.hjson"]  # no registers: kept as hjson text, a verification document
    assert plan.doc_type == "hjson" and plan.kind == "verification" and "gpio_smoke" in plan.text
    assert docs["pins.xml"].doc_type == "text" and "<pin name='tx'/>" in docs["pins.xml"].text
    assert [label for _, label in docs["dma.pdf"].locations] == ["p. 1", "p. 2"]


def test_unreadable_files_are_dropped_with_their_reason(ingested):
    dropped = json.dumps(ingested.report.to_dict())
    assert "locked.docx" in dropped and "password-protected" in dropped
    assert "evil.xml" in dropped and "unsafe XML" in dropped
    assert {d.source for d in ingested.documents}.isdisjoint({"locked.docx", "evil.xml"})


def test_register_questions_find_their_register_with_its_location(specs, tmp_path):
    from retriever.index import Index, build_index

    build_index([specs], tmp_path / "index", progress=False)
    index = Index.open(tmp_path / "index")
    top = index.search("which bit of which register enables the UART transmitter TX_EN", k=3)
    assert top and top[0].chunk.source in {"uart.xml", "uart_regs.xlsx", "uart_spec.docx"}
    assert "TX_EN" in top[0].chunk.text
    wrap = index.search("timer STATUS WRAP counter wrapped bit", k=3)
    assert wrap[0].chunk.source == "timer.rdl"
    page = index.search("DONE_IRQ fires twice errata workaround", k=1)[0]
    # the errata passage starts on page 2, or is cited as a span when its chunk began on page 1
    assert page.chunk.source == "dma.pdf" and page.chunk.location in ("p. 2", "p. 1–2")
    assert {c.location for c in index.chunks() if c.source == "dma.pdf"} == {"p. 1–2", "p. 2"}
