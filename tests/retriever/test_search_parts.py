"""The parts of search on their own: code-aware tokenizer, fusion arithmetic, config validation, reranking."""
from __future__ import annotations

import numpy as np
import pytest

from retriever.bm25 import BM25Index, tokenize
from retriever.config import IndexConfig, IndexConfigError
from retriever.fusion import fuse
from retriever import windows
from retriever.build import build_index
from retriever.index import Index


def test_tokenizer_keeps_identifiers_and_their_parts():
    tokens = tokenize("Run global_placement -pad_left 2; set CTRL.EN in uartTxFifo")
    for t in ("global_placement", "global", "placement", "-pad_left", "pad_left", "pad", "left",
              "ctrl.en", "ctrl", "en", "uarttxfifo", "tx", "fifo"):
        assert t in tokens, t
    assert "in" not in tokens  # stop words dropped


def test_bm25_exact_identifier_beats_parts():
    texts = ["pad left and pad right", "global_placement -pad_left 2", "unrelated"]
    index = BM25Index.build([7, 8, 9], texts)
    ids, scores = index.search("-pad_left", 3)
    assert ids.tolist()[0] == 8 and 9 not in ids.tolist() and scores[0] > scores[-1]


def _ranking(ids, scores):
    return np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float32)


def test_rrf_and_weighted_fusion():
    dense, bm25 = _ranking([1, 2, 3], [0.9, 0.8, 0.1]), _ranking([3, 1], [12.0, 2.0])
    rrf = fuse("rrf", dense, bm25, rrf_k=60)
    assert [i for i, _ in rrf] == [1, 3, 2]
    assert rrf[0][1] == pytest.approx(1 / 61 + 1 / 62)
    w = dict(fuse("weighted", dense, bm25, dense_weight=0.5, bm25_weight=0.5))
    assert w[3] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0) and w[1] == pytest.approx(0.5 * 1.0 + 0.0)
    assert w[2] == pytest.approx(0.5 * (0.8 - 0.1) / 0.8)
    only_bm25 = fuse("weighted", dense, bm25, dense_weight=0.0, bm25_weight=1.0)
    assert only_bm25[0][0] == 3
    with pytest.raises(ValueError, match="fusion"):
        fuse("max", dense, bm25)


def test_config_rejects_bad_values_naming_the_field(tmp_path):
    with pytest.raises(ValueError, match="candidates"):
        IndexConfig(candidates=0)
    with pytest.raises(ValueError, match="dense_weight"):
        IndexConfig(fusion="weighted", dense_weight=0, bm25_weight=0)
    f = tmp_path / "idx.yaml"
    f.write_text("faiss: hnsw\nhnsw_m: 16\nfusion: weighted\nchunking: {max_chars: 800}\n")
    cfg = IndexConfig.from_yaml(f)
    assert (cfg.faiss, cfg.hnsw_m, cfg.fusion, cfg.chunking.max_chars) == ("hnsw", 16, "weighted", 800)
    f.write_text("fusoin: rrf\n")
    with pytest.raises(IndexConfigError, match=r"idx.yaml: fusoin"):
        IndexConfig.from_yaml(f)


def test_fusion_is_selectable_on_an_open_index(mini_index_master):
    index = Index.open(mini_index_master[1])
    rrf = index.search("UART baud divisor", k=3)
    index.config = index.config.model_copy(update={"fusion": "weighted"})
    weighted = index.search("UART baud divisor", k=3)
    assert rrf[0].chunk.source == weighted[0].chunk.source == "docs/uart.md"
    assert weighted[0].scores["fused"] <= 1.0 < 1 / 0.016  # normalised sum, not reciprocal ranks


def test_reranker_reorders_by_cross_encoder_scores(mini_index_master, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    index = Index.open(mini_index_master[1])
    index.config = index.config.model_copy(update={"reranker": tiny_cross_encoder, "rerank_candidates": 5})
    ce = CrossEncoder(str(tiny_cross_encoder), local_files_only=True)
    changed = 0
    for query in ("UART baud rate", "DMA descriptors", "reset of each block", "placement flow"):
        plain = index.search(query, k=5)
        hits = index.search(query, k=5, rerank=True)
        assert {h.chunk.id for h in hits} == {h.chunk.id for h in plain}  # same candidates, new order
        expected = ce.predict([(query, f"{h.chunk.title}\n{h.chunk.text}") for h in hits])
        assert [h.score for h in hits] == pytest.approx(sorted(expected.tolist(), reverse=True), abs=1e-5)
        assert all("rerank" in h.scores and "fused" in h.scores for h in hits)
        changed += [h.chunk.id for h in hits] != [h.chunk.id for h in plain]
    assert changed, "a random cross-encoder should reorder at least one query's results"


def test_bm25_indexes_source_paths_by_default(mini_index_master):
    """A word found only in file paths ("docs") reaches exactly the chunks under docs/ via BM25."""
    index = Index.open(mini_index_master[1])
    assert index.config.bm25_source is True
    ids, scores = index._bm25.search("docs", 50)  # BM25 rows are passage windows: parent = id // STRIDE
    sources = {c.source for c in index.store.chunks_by_vid((ids // windows.STRIDE).tolist()).values()}
    assert sources and all(s.startswith("docs/") for s in sources)
    sections = index.store.sections()
    ids_plain, texts_plain = [r[0] for r in sections], [f"{r[2]}\n{r[3]}" for r in sections]
    assert not BM25Index.build(ids_plain, texts_plain).search("docs", 50)[0].size  # without paths: no match
    index.close()


def test_windows_keep_rows_whole_and_cover_the_text():
    rows = [f"| `-opt{i}` | Sets option {i}. The default value is `{i}`. Allowed values are integers. |" for i in range(12)]
    prose = " ".join(f"Sentence {i} explains one more detail of the block." for i in range(20))
    text = "\n".join(rows) + "\n\n" + prose
    parts = windows.split(text, 300)
    assert len(parts) > 4 and all(len(p) <= 300 for p in parts)
    for row in rows:  # a table row is never cut
        assert sum(row in p for p in parts) == 1
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())  # nothing lost or repeated
    assert windows.split(text, 0) == [text]
    assert windows.texts("A > B", "one line", 300) == ["A > B\none line"]
    assert len(windows.split("\n".join(["x" * 50] * 500), 60)) == windows.STRIDE  # the tail merges


def test_best_window_scores_its_chunk():
    s = windows.STRIDE
    ids = np.asarray([3 * s + 1, 5 * s, 3 * s, 7 * s + 2, 5 * s + 4])
    vids, scores = windows.best_per_chunk(ids, np.asarray([0.9, 0.8, 0.7, 0.6, 0.5]), s, 10)
    assert vids.tolist() == [3, 5, 7] and scores.tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert windows.best_per_chunk(ids, np.arange(5.0)[::-1], s, 2)[0].tolist() == [3, 5]


def test_a_table_row_is_found_through_its_window(tmp_path):
    """One option among many in a long table: with windows its chunk ranks first, and the index holds one
    vector per window (FAISS ids decode to their chunk)."""
    from .conftest import write_corpus

    filler = "\n".join(f"| `-knob{i}` | Adjusts knob number {i} of the router. The default is {i}. |" for i in range(8))
    table = ("# Router\n\n## Options\n\n| Switch | Description |\n|---|---|\n" + filler +
             "\n| `-overflow` | Target overflow at which placement stops iterating. The default is 0.1. |\n")
    other = "# Placement\n\n" + "\n\n".join(f"## Step {i}\n\nPlacement step {i} spreads cells." for i in range(6))
    corpus = write_corpus(tmp_path / "corpus", {"router.md": table, "place.md": other})
    out = tmp_path / "index"
    build_index([corpus], out, progress=False)
    index = Index.open(out)
    dim = index.embedder.dim
    per_chunk = index.store.chunk_vectors(dim)
    assert index.vectors.count() == sum(len(m) for m in per_chunk.values()) > len(index)
    assert set(np.unique(index._bm25.ids // windows.STRIDE).tolist()) == set(per_chunk)
    hit = index.search("when does placement stop iterating, what overflow", k=1, mode="dense")[0]
    assert "-overflow" in hit.chunk.text and hit.chunk.source == "router.md"
    index.close()
