"""Word, PowerPoint and Excel/CSV files: headings from styles, slides as locations, tables as pipe rows,
register maps detected whatever their column names, and the refused or capped inputs."""
from __future__ import annotations

import zipfile

import pytest

from corpora.formats import FormatError
from corpora.formats import sheets as sheets_mod
from corpora.formats.office import load_docx, load_pptx
from corpora.formats.sheets import load_csv, load_xlsx


def _docx(path, heading_extra=""):
    import docx

    d = docx.Document()
    d.core_properties.title = "Pico UART spec"
    d.add_heading("Pico UART", level=1)
    d.add_paragraph("The UART sends bytes at the rate set by its NCO.")
    d.add_heading("Registers" + heading_extra, level=2)
    d.add_paragraph("Enable the TX path first.", style="List Bullet")
    t = d.add_table(rows=2, cols=3)
    for i, v in enumerate(["Name", "Offset", "Description"]):
        t.cell(0, i).text = v
    for i, v in enumerate(["CTRL", "0x10", "Control | enables"]):
        t.cell(1, i).text = v
    d.save(path)
    return path


def _macro_enabled(src, dst, main_type, macro_type):
    """A copy of ``src`` that says it is macro-enabled and carries a (fake) VBA project part."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(main_type, macro_type)
            zout.writestr(info, data)
        zout.writestr("word/vbaProject.bin", b"Attribute VB_Name = \"AutoOpen\"\nShell \"touch /tmp/pwned\"")
    return dst


def _encrypt(src, dst):
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    with open(src, "rb") as f, open(dst, "wb") as out:
        ooxml.OOXMLFile(f).encrypt("secret", out)
    return dst


def test_docx_headings_lists_and_tables(tmp_path):
    loaded = load_docx(_docx(tmp_path / "uart.docx"))
    lines = loaded.text.splitlines()
    assert loaded.title == "Pico UART spec" and loaded.doc_type == "docx"
    assert "# Pico UART" in lines and "## Registers" in lines and "- Enable the TX path first." in lines
    assert "| CTRL | 0x10 | Control \\| enables |" in lines
    assert lines.index("## Registers") < lines.index("| CTRL | 0x10 | Control \\| enables |")


def test_docm_content_is_read_and_macros_are_dropped(tmp_path):
    src = _docx(tmp_path / "plain.docx")
    docm = _macro_enabled(src, tmp_path / "spec.docm",
                          b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                          b"application/vnd.ms-word.document.macroEnabled.main+xml")
    text = load_docx(docm).text
    assert "## Registers" in text and "AutoOpen" not in text


def test_encrypted_docx_is_refused_by_name(tmp_path):
    enc = _encrypt(_docx(tmp_path / "plain.docx"), tmp_path / "secret.docx")
    with pytest.raises(FormatError, match=r"secret\.docx: password-protected"):
        load_docx(enc)


def test_pptx_slide_by_slide_with_locations(tmp_path):
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    s1 = deck.slides.add_slide(deck.slide_layouts[1])
    s1.shapes.title.text = "DMA overview"
    s1.placeholders[1].text_frame.text = "Four channels, round-robin arbitration."
    s1.notes_slide.notes_text_frame.text = "Mention the burst limit."
    s2 = deck.slides.add_slide(deck.slide_layouts[5])
    s2.shapes.title.text = "DMA registers"
    table = s2.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    table.cell(0, 0).text, table.cell(0, 1).text = "Register", "Offset"
    table.cell(1, 0).text, table.cell(1, 1).text = "DMA_CTRL", "0x0"
    deck.save(tmp_path / "dma.pptx")
    loaded = load_pptx(tmp_path / "dma.pptx")
    lines = loaded.text.splitlines()
    assert [label for _, label in loaded.locations] == ["slide 1", "slide 2"]
    assert [lines[i] for i, _ in loaded.locations] == ["# DMA overview", "# DMA registers"]
    assert "Four channels, round-robin arbitration." in lines and "Notes: Mention the burst limit." in lines
    assert "| DMA_CTRL | 0x0 |" in lines and loaded.title == "DMA overview"


def _regmap_xlsx(path, extra_rows=0):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Regs"
    ws.append(["Pico UART register map (rev B)"])  # a title row above the header
    ws.append(["Reg Name", "Address", "Field", "Bit Range", "SW Access", "Default", "Description"])
    ws.append(["CTRL", "0x10", "TX_EN", "0", "RW", "0", "Enable the transmitter"])
    ws.append([None, None, "NCO", "[31:16]", "RW", "0x1A", "Baud rate divisor"])  # merged register cell
    ws.append(["STATUS", "0x14", "TXFULL", "3", "RO", "0", "TX FIFO full"])
    notes = wb.create_sheet("Revisions")
    notes.append(["Rev", "Date", "Change"])
    notes.append(["B", "2026-01-10", "Added NCO"])
    for i in range(extra_rows):
        notes.append([f"r{i}", "", "filler"])
    wb.save(path)
    return path


def test_xlsx_register_map_sections_and_plain_sheets(tmp_path):
    loaded = load_xlsx(_regmap_xlsx(tmp_path / "uart_regs.xlsx"))
    lines = loaded.text.splitlines()
    assert "### CTRL @ 0x10" in lines and "### STATUS @ 0x14" in lines
    assert "| 31:16 | NCO | RW | 0x1a | Baud rate divisor |" in lines
    assert "| 3 | TXFULL | RO | 0x0 | TX FIFO full |" in lines
    assert "| B | 2026-01-10 | Added NCO |" in lines
    assert [(lines[i], label) for i, label in loaded.locations] == [("# sheet Regs", "sheet Regs"),
                                                                  ("# sheet Revisions", "sheet Revisions")]


def test_csv_register_row_layout_with_other_column_names(tmp_path):
    p = tmp_path / "dma.csv"
    p.write_text("Name;Offset;Bits;Type;Reset value;Comments\n"
                 "DMA_CTRL;0x0;;;;DMA control\n"
                 ";;0;rw;0;Start the transfer\n"
                 "DMA_LEN;0x4;;;;Transfer length\n"
                 ";;15:0;rw;0;Bytes to move\n")
    lines = load_csv(p).text.splitlines()
    assert "### DMA_CTRL @ 0x0" in lines and "### DMA_LEN @ 0x4" in lines
    assert "DMA control" in lines and "| 15:0 | DMA_LEN | rw | 0x0 | Bytes to move |" in lines


def test_huge_sheet_is_capped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(sheets_mod, "MAX_ROWS", 50)
    text = load_xlsx(_regmap_xlsx(tmp_path / "big.xlsx", extra_rows=200)).text
    assert "(sheet Revisions cut: the first 50 of 202 rows are indexed)" in text
    assert "| r47 |  | filler |" in text and "r48" not in text


def test_xlsm_is_read_without_its_macros(tmp_path):
    from openpyxl import load_workbook

    src = _regmap_xlsx(tmp_path / "plain.xlsx")
    wb = load_workbook(src)
    wb.save(tmp_path / "regs.xlsm")
    text = load_xlsx(tmp_path / "regs.xlsm").text
    assert "### CTRL @ 0x10" in text


def test_password_protected_xlsx_and_garbage_are_refused_by_name(tmp_path):
    enc = _encrypt(_regmap_xlsx(tmp_path / "plain.xlsx"), tmp_path / "locked.xlsx")
    with pytest.raises(FormatError, match=r"locked\.xlsx: password-protected"):
        load_xlsx(enc)
    (tmp_path / "junk.xlsx").write_bytes(b"not a zip at all")
    with pytest.raises(FormatError, match=r"junk\.xlsx: not a readable workbook"):
        load_xlsx(tmp_path / "junk.xlsx")
