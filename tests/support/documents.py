"""Real binary documents written for tests (nothing is downloaded or checked in)."""
from __future__ import annotations

from pathlib import Path

DMA_PAGES = ("The DMA engine walks a linked list of descriptors.\nEach descriptor holds source and length.\n"
             "The engine stops at a null next pointer.",
             "Errata: DONE_IRQ fires twice on wrap.\nWorkaround: mask the second interrupt.\n"
             "Fixed in revision B of the engine.")


def write_pdf(path: Path, pages: tuple[str, ...] = DMA_PAGES) -> Path:
    """A real PDF with one page per text (matplotlib's PDF backend), read back by pypdf like any spec."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        for text in pages:
            fig = plt.figure()
            fig.text(0.1, 0.5, text)
            pdf.savefig(fig)
            plt.close(fig)
    return path
