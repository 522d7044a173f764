"""A citation location (page, slide, sheet) a loader gives reaches the index's stored chunk rows."""
from __future__ import annotations

from pathlib import Path

from corpora import loaders
from corpora.loaders import Loaded, register


def test_location_label_is_stored_with_the_chunk(tmp_path, tiny_embedder_model):
    from retriever.index import Index, build_index

    def load(path: Path) -> Loaded:
        pages = path.read_text(encoding="utf-8").split("\f")
        text, locations = "", []
        for n, page in enumerate(pages, 1):
            locations.append((text.count("\n"), f"slide {n}"))
            text += f"# Slide {n}\n\n{page.strip()}\n\n"
        return Loaded(text, locations=locations)

    register("slides-test", suffixes=(".slides",))(load)
    try:
        corpus = tmp_path / "c"
        corpus.mkdir()
        (corpus / "deck.slides").write_text("The UART baud divisor is clk over sixteen times baud.\f"
                                           "The DMA raises DONE_IRQ after the last descriptor.\n", encoding="utf-8")
        build_index([corpus], tmp_path / "index", model=tiny_embedder_model, progress=False)
    finally:
        loaders.unregister("slides-test")
    index = Index.open(tmp_path / "index")
    rows = {c.location: c for c in index.chunks()}
    assert set(rows) == {"slide 1", "slide 2"} and "DONE_IRQ" in rows["slide 2"].text
    assert index.get(rows["slide 1"].id).location == "slide 1"
    hits = index.search("DONE_IRQ descriptor", k=1, mode="bm25")
    assert hits[0].chunk.location == "slide 2"
