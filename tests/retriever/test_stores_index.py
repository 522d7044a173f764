"""The index through the VectorStore protocol: the numpy store end to end, switching stores, old generations."""
from __future__ import annotations

from retriever import layout
from retriever.build import build_index
from retriever.config import IndexConfig
from retriever.index import Index
from retriever.store import FILE as STORE_FILE, Store
from retriever.stores import CATALOG, FaissStore, NumpyStore

from .conftest import RESTRICTED, SECRET


def _secret_hits(index: Index, groups) -> list[str]:
    return [h.chunk.source for h in index.search(f"{SECRET} tapeout plan", k=10, mode="dense", user_groups=groups)]


def test_numpy_store_builds_and_searches_like_faiss(mini_index):
    corpus, out = mini_index
    faiss_index = Index.open(out)
    assert isinstance(faiss_index.vectors, FaissStore)
    expected = [h.chunk.id for h in faiss_index.search("UART baud rate divisor", k=5, mode="dense")]
    report = build_index([corpus], out, IndexConfig(store="numpy"), progress=False)
    assert report.chunks_embedded == 0  # switching stores reuses the stored vectors
    index = Index.open(out)
    assert isinstance(index.vectors, NumpyStore) and index.info["config"]["store"] == "numpy"
    assert [h.chunk.id for h in index.search("UART baud rate divisor", k=5, mode="dense")] == expected
    assert "docs/restricted/tapeout.md" not in _secret_hits(index, None)
    assert "docs/restricted/tapeout.md" in _secret_hits(index, [RESTRICTED])


def test_generations_without_a_catalog_still_open_and_are_upgraded(mini_index):
    """Indexes built before the vector store saved its catalog (manifest format 2) keep working."""
    corpus, out = mini_index
    gen = layout.current_generation(out)
    (gen / CATALOG).unlink()
    store = Store(gen / STORE_FILE)
    manifest = store.get_meta("manifest")
    store.set_meta("manifest", {**manifest, "format": 2})
    store.commit()
    store.close()
    index = Index.open(out)  # the catalog comes from store.sqlite
    assert index.vectors.count() == sum(len(m) for m in index.store.chunk_vectors(index.embedder.dim).values())
    assert "docs/restricted/tapeout.md" not in _secret_hits(index, None)
    assert "docs/restricted/tapeout.md" in _secret_hits(index, [RESTRICTED])
    report = build_index([corpus], out, progress=False)
    assert report.chunks_embedded == 0
    assert (layout.current_generation(out) / CATALOG).is_file()


def test_acl_change_reaches_the_vector_store(mini_index):
    """A manifest edit relabels a document without re-embedding; the store then hides it from the public."""
    corpus, out = mini_index
    (corpus / "chipassist-acl.yaml").write_text(
        f'rules:\n  - glob: "docs/restricted/**"\n    groups: ["{RESTRICTED}"]\n'
        f'  - glob: "docs/uart.md"\n    groups: ["{RESTRICTED}"]\n', encoding="utf-8")
    report = build_index([corpus], out, progress=False)
    assert report.acl_changed == 1 and report.chunks_embedded == 0
    index = Index.open(out)
    assert any(h.chunk.source == "docs/uart.md"
               for h in index.search("UART baud rate", k=10, mode="dense", user_groups=[RESTRICTED]))
    ids, _ = index.vectors.search(index.embedder.embed_query("UART baud rate"), index.vectors.count(), None)
    public = {c.source for c in index._rows({int(i) // 64 for i in ids[0].tolist() if i >= 0}).values()}
    assert public and "docs/uart.md" not in public and "docs/restricted/tapeout.md" not in public


def test_many_threads_search_one_index_with_acls(sample_index_master):
    # 20 API clients searching at once segfaulted the server: FAISS's IndexIDMap swaps the selector inside
    # shared search parameters during a search, so each search now gets its own parameters
    from concurrent.futures import ThreadPoolExecutor

    from retriever.index import Index

    index = Index.open(sample_index_master)
    vectors = index.embedder.embed_documents(["How do I reset the DMA engine?", "uart baud divisor"])
    cases = [(vectors[q], groups) for q in (0, 1) for groups in ([], ["silicon-team"])]
    expected = [index.vectors.search(v, 10, g)[0].tolist() for v, g in cases]  # one at a time
    with ThreadPoolExecutor(20) as pool:
        got = list(pool.map(lambda c: index.vectors.search(c[0], 10, c[1])[0].tolist(), cases * 200))
    assert got == expected * 200
