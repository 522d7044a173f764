"""PDF structure: headings by font size and outline, ruled tables as pipe rows, ``p. N`` locations, running
headers/footers and page numbers stripped; encrypted and image-only PDFs refused by name.

The fixture PDF is printed by headless Chromium with its default header (date, title) and footer (URL,
``n/N``) on every page: the running lines the loader has to remove.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from corpora.formats import FormatError
from corpora.formats.pdf import load_pdf

HTML = """<!doctype html><html><head><title>Pico DMA spec</title><style>
body { font-family: serif; font-size: 12pt; }
h1 { font-size: 24pt; } h2 { font-size: 18pt; }
table { border-collapse: collapse; } th, td { border: 1px solid black; padding: 2px; }
</style></head><body>
<h1>Pico DMA</h1>
<p>The DMA engine moves data between memories without the CPU.</p>
<p>Errata</p>
<h2>Registers</h2>
<table><tr><th>Register</th><th>Offset</th><th>Description</th></tr>
<tr><td>DMA_CTRL</td><td>0x0</td><td>Start and stop the transfer</td></tr>
<tr><td>DMA_LEN</td><td>0x4</td><td>Bytes to move</td></tr></table>
%s
<h2>Programming guide</h2>
<p>Write DMA_LEN before setting DMA_CTRL.START, or the transfer moves zero bytes.</p>
</body></html>
""" % "\n".join(f"<p>Filler paragraph {i} about burst sizes and channel arbitration in the DMA.</p>"
                 for i in range(90))


@pytest.fixture(scope="module")
def spec_pdf(tmp_path_factory):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        pytest.skip("headless Chromium is needed to print the fixture PDF")
    d = tmp_path_factory.mktemp("pdf")
    (d / "spec.html").write_text(HTML)
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={d / 'raw.pdf'}",
                    (d / "spec.html").as_uri()], check=True, capture_output=True, timeout=120)
    # an outline entry on a body-size line: the outline, not the font, makes it a heading
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(d / "raw.pdf"))
    writer.add_outline_item("Errata", 0)
    writer.write(d / "spec.pdf")
    return d / "spec.pdf"


def test_headings_from_font_size_and_outline(spec_pdf):
    lines = load_pdf(spec_pdf).text.splitlines()
    assert "# Pico DMA" in lines and "## Registers" in lines and "## Programming guide" in lines
    assert "# Errata" in lines


def test_ruled_table_becomes_pipe_rows_under_its_heading(spec_pdf):
    lines = load_pdf(spec_pdf).text.splitlines()
    assert "| DMA_CTRL | 0x0 | Start and stop the transfer |" in lines
    assert lines.index("## Registers") < lines.index("| Register | Offset | Description |")


def test_page_locations_and_running_headers_footers_stripped(spec_pdf):
    loaded = load_pdf(spec_pdf)
    lines = loaded.text.splitlines()
    pages = loaded.meta["pages"]
    assert pages >= 3
    assert [label for _, label in loaded.locations] == [f"p. {n}" for n in range(1, pages + 1)]
    last = max(i for i, label in loaded.locations)
    assert any("Programming guide" in l for l in lines[last:]) or "Programming guide" in loaded.text
    assert not any("file://" in l or re.fullmatch(r"\d+/\d+", l.strip()) for l in lines)
    assert not any(l.strip() == "Pico DMA spec" for l in lines)  # the title in Chromium's running header
    assert loaded.title == "Pico DMA spec"


def test_encrypted_pdf_is_refused_by_name(spec_pdf, tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(spec_pdf))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    writer.write(tmp_path / "locked.pdf")
    with pytest.raises(FormatError, match=r"locked\.pdf: encrypted PDF"):
        load_pdf(tmp_path / "locked.pdf")


def test_owner_only_encryption_is_still_read(spec_pdf, tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(spec_pdf))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    writer.write(tmp_path / "noprint.pdf")
    assert "## Registers" in load_pdf(tmp_path / "noprint.pdf").text.splitlines()


def test_image_only_pdf_is_refused_by_name(tmp_path):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(img).text((50, 50), "scanned page: DMA_CTRL at 0x0", fill="black")
    img.save(tmp_path / "scan.pdf")
    with pytest.raises(FormatError, match=r"scan\.pdf: image-only: no text layer"):
        load_pdf(tmp_path / "scan.pdf")


def test_not_a_pdf_is_malformed(tmp_path):
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.4 garbage")
    with pytest.raises(FormatError, match=r"junk\.pdf: malformed PDF"):
        load_pdf(tmp_path / "junk.pdf")
