"""The index end to end on real FAISS, bm25s and SQLite: build, search, incremental updates, errors."""
from __future__ import annotations

import os
import time

import pytest

from retriever.config import IndexConfig
from retriever.embedder import Embedder
from retriever.index import CorruptIndexError, Index, IndexNotFoundError, ModelMismatchError, build_index

from .conftest import MINI, RESTRICTED


@pytest.fixture()
def embed_counter(monkeypatch) -> list[int]:
    """Counts texts passed to the real embedder (it still embeds them)."""
    counts: list[int] = []
    real = Embedder.embed_documents

    def counting(self, texts, **kw):
        counts.append(len(texts))
        return real(self, texts, **kw)

    monkeypatch.setattr(Embedder, "embed_documents", counting)
    return counts


def _sources(index: Index) -> set[str]:
    return {c.source for c in index.chunks()}


def test_search_modes_return_ranked_hits_with_component_scores(mini_index_master):
    index = Index.open(mini_index_master[1])
    assert index.info["model"]["name"] == "all-MiniLM-L6-v2" and index.info["model"]["fingerprint"]
    assert index.info["counts"]["documents"] == len(MINI)
    for mode, component in (("hybrid", "fused"), ("dense", "dense"), ("bm25", "bm25")):
        hits = index.search("How is the UART baud rate divisor set?", k=3, mode=mode)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert hits[0].chunk.source == "docs/uart.md", mode
        assert component in hits[0].scores
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    # identifiers stay searchable whole and by their parts
    assert index.search("-pad_left", k=1, mode="bm25")[0].chunk.source == "flow/place.md"
    assert index.search("CTRL.EN", k=1, mode="bm25")[0].chunk.source == "docs/uart.md"
    first = next(index.chunks())
    assert index.get(first.id) == first and index.get("no/such#0") is None


def test_sample_corpus_index(sample_index_master):
    index = Index.open(sample_index_master)
    chunks = list(index.chunks())
    assert chunks, "corpora/sample produced no chunks"
    assert len(index) == len(chunks) == index.info["counts"]["chunks"]
    assert index.search("UART baud rate", k=5)
    restricted = [c for c in chunks if "public" not in c.acl]
    assert restricted, "corpora/sample restricts docs/restricted/ in its chipassist-acl.yaml"
    for c in restricted[:3]:  # its own text as the query: the best possible match, still hidden
        for mode in ("hybrid", "bm25"):
            assert all(h.chunk.id != c.id for h in index.search(f"{c.title} {c.text[:300]}", k=20, mode=mode))
        team = index.search(f"{c.title} {c.text[:300]}", k=20, user_groups=set(c.acl))
        assert c.id in {h.chunk.id for h in team}


def test_incremental_update_embeds_only_what_changed(mini_index, embed_counter):
    corpus, out = mini_index
    before = {c.id: c for c in Index.open(out).chunks()}
    # touching a file (new mtime, same content) re-embeds nothing and keeps the generation
    os.utime(corpus / "docs/dma.md", (time.time() + 5, time.time() + 5))
    report = build_index([corpus], out, progress=False)
    assert (report.unchanged, report.changed, report.chunks_embedded) == (len(MINI), 0, 0)
    assert sum(embed_counter) == 0

    (corpus / "docs/dma.md").write_text("# DMA engine\n\nThe DMA supports scatter-gather with QUASAR mode.\n")
    (corpus / "docs/cru.md").unlink()
    (corpus / "docs/new.md").write_text("# Watchdog\n\nThe watchdog resets the SoC after a timeout.\n")
    report = build_index([corpus], out, progress=False)
    assert (report.added, report.changed, report.removed, report.unchanged) == (1, 1, 1, len(MINI) - 2)
    index = Index.open(out)
    changed = [c for c in index.chunks() if c.source in ("docs/dma.md", "docs/new.md")]
    assert sum(embed_counter) == report.chunks_embedded == len(changed)
    assert "docs/cru.md" not in _sources(index)
    assert index.search("QUASAR scatter-gather", k=1)[0].chunk.source == "docs/dma.md"
    assert all(h.chunk.source != "docs/cru.md" for h in index.search("clock reset unit CRU", k=10))
    # untouched documents keep their chunks exactly
    for c in index.chunks():
        if c.source == "docs/uart.md":
            assert before[c.id] == c
    assert len([p for p in out.iterdir() if p.name.startswith("gen-")]) == 1


def test_another_model_is_refused_and_rebuild_switches(mini_index, tiny_embedder_model):
    corpus, out = mini_index
    with pytest.raises(ModelMismatchError, match="--rebuild") as e:
        build_index([corpus], out, model=tiny_embedder_model, progress=False)
    assert str(out) in str(e.value) and "all-MiniLM-L6-v2" in str(e.value)
    assert Index.open(out).search("baud rate", k=1)  # the previous index is untouched
    report = build_index([corpus], out, model=tiny_embedder_model, rebuild=True, progress=False)
    assert report.chunks_embedded == report.chunks_total
    index = Index.open(out)
    assert index.info["model"]["path"] == str(tiny_embedder_model.resolve())
    assert index.embedder.dim == 32 and index.search("baud rate", k=2, mode="dense")
    # without --model, an update keeps using the index's own model
    assert build_index([corpus], out, progress=False).model["path"] == str(tiny_embedder_model.resolve())


@pytest.mark.parametrize("faiss_type", ["hnsw", "ivfpq"])
def test_approximate_faiss_types(mini_corpus, tmp_path, faiss_type):
    cfg = IndexConfig(faiss=faiss_type, hnsw_m=8, pq_m=8)
    out = tmp_path / "index"
    build_index([mini_corpus], out, cfg, progress=False)
    index = Index.open(out)
    assert index.info["config"]["faiss"] == faiss_type
    expected = {"hnsw": "IndexHNSWFlat", "ivfpq": "IndexIVFPQ"}[faiss_type]
    assert type(index.vectors.faiss_index).__name__ == expected
    assert index.search("DMA descriptors linked list", k=1, mode="dense")[0].chunk.source == "docs/dma.md"
    (mini_corpus / "docs/dma.md").unlink()  # HNSW cannot delete: the store rebuilds its graph
    report = build_index([mini_corpus], out, progress=False)
    assert report.removed == 1 and report.chunks_embedded == 0
    index = Index.open(out)
    assert index.vectors.count() == index.vectors.faiss_index.ntotal == sum(len(m) for m in index.store.chunk_vectors(index.embedder.dim).values())
    assert all(h.chunk.source != "docs/dma.md" for h in index.search("DMA descriptors", k=10, mode="dense"))


def test_several_roots_keep_sources_relative_to_each(tmp_path):
    from .conftest import write_corpus

    a = write_corpus(tmp_path / "a", {"docs/uart.md": "# UART\n\nBaud rate from BAUD_DIV.\n"})
    b = write_corpus(tmp_path / "b", {"rtl/uart.v": "module uart_tx(input clk);\nendmodule\n",
                                      "docs/uart.md": "# Other UART\n\nA clash with root a.\n"})
    report = build_index([a, b], tmp_path / "index", progress=False)
    sources = _sources(Index.open(tmp_path / "index"))
    assert "docs/uart.md" in sources and "rtl/uart.v" in sources
    assert report.conflicts and "docs/uart.md" in report.conflicts[0]


def test_open_errors_name_the_folder(tmp_path, mini_index):
    with pytest.raises(IndexNotFoundError, match=str(tmp_path / "missing")):
        Index.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFoundError, match="holds no built index"):
        Index.open(tmp_path / "empty")
    corpus, out = mini_index
    gen = next(p for p in out.iterdir() if p.name.startswith("gen-"))
    (gen / "store.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(CorruptIndexError, match=f"{out}.*--rebuild"):
        Index.open(out)
    with pytest.raises(CorruptIndexError, match="--rebuild"):
        build_index([corpus], out, progress=False)
    build_index([corpus], out, progress=False, rebuild=True)
    assert Index.open(out).search("baud rate", k=1)
    gen = next(p for p in out.iterdir() if p.name.startswith("gen-"))
    (out / "CURRENT").write_text("gen-000099\n")
    with pytest.raises(CorruptIndexError, match="missing"):
        Index.open(out)


def test_bad_search_arguments(mini_index_master):
    index = Index.open(mini_index_master[1])
    with pytest.raises(ValueError, match="mode"):
        index.search("x", mode="fuzzy")
    with pytest.raises(ValueError, match="reranker"):
        index.search("x", rerank=True)
    assert index.search("qwxzv", k=3, mode="bm25") == []


def test_restricted_documents_keep_their_groups(mini_index_master):
    chunks = [c for c in Index.open(mini_index_master[1]).chunks() if c.source.startswith("docs/restricted/")]
    assert chunks and all(c.acl == [RESTRICTED] for c in chunks)


def test_missing_corpus_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        build_index([tmp_path / "nope"], tmp_path / "index", progress=False)
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_one_build_at_a_time_and_leftovers_are_cleaned(mini_index):
    from retriever import layout

    corpus, out = mini_index
    with layout.build_lock(out), pytest.raises(layout.BuildLockedError, match=str(out)):
        build_index([corpus], out, progress=False)
    (out / ".staging-999999").mkdir()  # what a killed build leaves behind
    (out / "gen-000777").mkdir()  # renamed but never made CURRENT
    (corpus / "docs/cru.md").write_text("# CRU\n\nThe CRU gates clocks.\n")
    build_index([corpus], out, progress=False)
    names = {p.name for p in out.iterdir()}
    assert ".staging-999999" not in names and "gen-000777" not in names
    assert [n for n in names if n.startswith("gen-")] == [(out / "CURRENT").read_text().strip()]
