"""The retriever index: open a built index once, then search it (dense + BM25, fused, ACL-filtered, reranked).

Build with ``build_index([root], index_dir)`` (``retriever.build``; ``chipassist index ROOT --index DIR``),
then::

    index = Index.open(index_dir)
    hits = index.search("how is the UART baud rate set?", k=5, user_groups={"soc-team"})

``Index.open`` loads the vector store (``retriever.stores``: FAISS by default), BM25 and every chunk's ACL
into memory; chunk rows come from SQLite and are cached, and the embedding model loads on the first dense
query. Search never returns a chunk its caller may not see: ``user_groups=None`` means public only; the
vector store applies the groups inside its search, BM25 candidates are filtered here, and the candidate
pools grow until ``k`` visible hits remain or the index is exhausted.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from corpora.types import Chunk, reader_groups, visible
from retriever import layout, windows
from retriever.bm25 import BM25Index
from retriever.build import BuildReport, EmbedderLoadError, ModelMismatchError, build_index, get_embedder
from retriever.config import IndexConfig
from retriever.fusion import fuse
from retriever.layout import CorruptIndexError, IndexNotFoundError
from retriever.store import FILE as STORE_FILE, Store
from retriever.stores import CATALOG, Catalog, VectorStore, open_store
from retriever.types import SearchHit

__all__ = ["Index", "build_index", "BuildReport", "ModelMismatchError", "EmbedderLoadError", "IndexNotFoundError",
           "CorruptIndexError"]

Mode = Literal["hybrid", "dense", "bm25"]
_CACHE_MAX = 50_000


class Index:
    """A committed index generation, loaded for search. Thread-safe for reads."""

    def __init__(self, index_dir: Path, generation: Path, store: Store, manifest: dict[str, Any],
                 vectors: VectorStore, bm25: BM25Index) -> None:
        self.index_dir = index_dir
        self.generation = generation
        self.store = store
        self.manifest = manifest
        self.config = IndexConfig.model_validate(manifest["config"])
        self.vectors = vectors  # the dense half (retriever.stores.VectorStore): applies ACLs in its search
        self._bm25 = bm25
        # FAISS and BM25 rows are passage windows of chunks (retriever.windows); format-1 indexes: one per chunk
        self._stride = windows.STRIDE if manifest.get("format", 1) >= 2 else 1
        self._acl = store.acls()
        self._cache: dict[int, Chunk] = {}
        self._lock = threading.Lock()
        self._reranker = None

    @classmethod
    def open(cls, index_dir: str | Path) -> "Index":
        """Load the live generation of ``index_dir``.

        Raises:
            IndexNotFoundError: the folder is missing or holds no built index.
            CorruptIndexError: the folder's index files cannot be read.
        """
        index_dir = Path(index_dir)
        hint = f"build one with `chipassist index PATH --index {index_dir}`"
        if not index_dir.is_dir():
            raise IndexNotFoundError(f"no index at {index_dir}: the folder does not exist; {hint}")
        gen = layout.current_generation(index_dir)
        if gen is None:
            raise IndexNotFoundError(f"no index at {index_dir}: the folder holds no built index; {hint}")
        layout.clean_temp_files(index_dir)  # a pointer write killed mid-commit leaves .CURRENT.tmp-<pid>
        while True:
            try:
                return cls(index_dir, gen, *_load_generation(gen))
            except Exception as e:  # sqlite3, faiss, numpy and json each raise their own types
                newer = layout.current_generation(index_dir)
                if newer is not None and newer != gen:
                    gen = newer  # a build committed a new generation while we were reading: read that one
                    continue
                raise CorruptIndexError(f"index at {index_dir} is corrupt or unreadable ({gen.name}: "
                                        f"{type(e).__name__}: {e}); rebuild it with `chipassist index PATH "
                                        f"--index {index_dir} --rebuild`") from e

    # -- contents ------------------------------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        """Model (name, path, fingerprint, dim), counts, config and build time of this index."""
        return {"index_dir": str(self.index_dir), "generation": self.generation.name,
                "model": self.manifest.get("model", {}), "counts": self.manifest.get("counts", {}),
                "config": self.config.model_dump(mode="json"), "built_at": self.manifest.get("built_at"),
                "roots": self.manifest.get("roots", [])}

    def __len__(self) -> int:
        return len(self._acl)

    def chunks(self) -> Iterator[Chunk]:
        """Every chunk of the index (text, title/heading path, kind, ACL, metadata)."""
        return self.store.iter_chunks()

    def get(self, chunk_id: str) -> Chunk | None:
        """The chunk with id ``chunk_id``, or None when the index has none (no ACL check: callers filter)."""
        return self.store.chunk_by_id(chunk_id)

    def _rows(self, vids: Iterable[int]) -> dict[int, Chunk]:
        vids = list(vids)
        missing = [v for v in vids if v not in self._cache]
        if missing:
            rows = self.store.chunks_by_vid(missing)
            with self._lock:
                if len(self._cache) + len(rows) > _CACHE_MAX:
                    self._cache.clear()
                self._cache.update(rows)
        return {v: self._cache[v] for v in vids if v in self._cache}

    # -- search --------------------------------------------------------------------------------
    @cached_property
    def embedder(self):
        """The model that built the index (loaded on the first dense query, shared within the process)."""
        return get_embedder(self.manifest["model"]["path"], self.config)

    def _only_visible(self, ranking: tuple[np.ndarray, np.ndarray], groups: frozenset[str] | None):
        """The (ids, scores) a user in ``groups`` may see; unknown ids are dropped too."""
        ids, scores = ranking
        acls = [self._acl.get(i) for i in ids.tolist()]
        keep = np.asarray([a is not None and visible(a, groups) for a in acls], dtype=bool)
        return ids[keep], scores[keep]

    def search(self, query: str, k: int = 5, user_groups: Iterable[str] | None = None, mode: Mode = "hybrid",
               rerank: bool = False) -> list[SearchHit]:
        """The top ``k`` chunks for ``query`` visible to ``user_groups`` (None: public only), best first.

        ``mode``: ``hybrid`` (dense + BM25 fused by ``config.fusion``), ``dense`` or ``bm25``. ``rerank``
        re-scores the top ``config.rerank_candidates`` with the cross-encoder at ``config.reranker``.
        Each hit's ``scores`` holds the components (dense, bm25, fused, rerank) that produced it.
        """
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"mode must be hybrid, dense or bm25, got {mode!r}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        groups = reader_groups(user_groups)
        cfg = self.config
        query_vec = self.embedder.embed_query(query) if mode != "bm25" and len(self) else None
        want = max(k, cfg.rerank_candidates) if rerank else k
        pool = max(cfg.candidates, 2 * want)
        while True:
            dense, lexical, exhausted = self._candidates(query, query_vec, pool, mode, groups)
            # Filter each list before fusing, so ranks count only chunks this user may see (the vector store
            # already did for dense; checking again also drops ids the SQLite store does not know).
            dense, lexical = self._only_visible(dense, groups), self._only_visible(lexical, groups)
            visible = self._rank(mode, dense, lexical)
            if len(visible) >= want or exhausted or pool >= len(self):
                break
            pool *= 4  # ACLs hid too many candidates: over-fetch more
        top = visible[:want]
        components = {"dense": dict(zip(dense[0].tolist(), dense[1].tolist())),
                      "bm25": dict(zip(lexical[0].tolist(), lexical[1].tolist()))}
        rows = self._rows(v for v, _ in top)
        if mode == "hybrid":
            components["fused"] = dict(top)
        hits = [SearchHit(chunk=rows[v], score=float(s), rank=0,
                          scores={name: float(c[v]) for name, c in components.items() if v in c})
                for v, s in top if v in rows]
        if rerank:
            hits = self._rerank(query, hits)
        hits = hits[:k]
        for rank, h in enumerate(hits, 1):
            h.rank = rank
        return hits

    def _window_fetch(self, n: int) -> int:
        """Windows to fetch for ``n`` distinct chunks: several windows of one chunk can rank together."""
        return n * 4 if self._stride > 1 else n

    def dense_windows(self, query_vecs: np.ndarray, n: int, user_groups: Iterable[str] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """For a batch of query vectors, the ``n`` best chunks each that ``user_groups`` may see (None: public
        only): (vids, scores) of shape (queries, n), -1 where fewer exist; a chunk scores as its best window.
        Used to mine hard negatives in batch (every thread)."""
        ids, scores = self.vectors.search(query_vecs, self._window_fetch(n), user_groups)
        out_ids = np.full((len(query_vecs), n), -1, np.int64)
        out_scores = np.zeros((len(query_vecs), n), np.float32)
        for i in range(len(query_vecs)):
            keep = ids[i] >= 0
            v, s = windows.best_per_chunk(ids[i][keep], scores[i][keep], self._stride, n)
            out_ids[i, :len(v)], out_scores[i, :len(v)] = v, s
        return out_ids, out_scores

    def _dense(self, query_vec: np.ndarray, n: int, groups: frozenset[str] | None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best visible windows for one query vector: (ids, scores), best first."""
        ids, scores = self.vectors.search(query_vec, n, groups)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _candidates(self, query: str, query_vec, pool: int, mode: str, groups: frozenset[str] | None):
        """(dense, bm25, exhausted): each ranking's best ``pool`` chunks, every chunk scored by its best window."""
        fetch = self._window_fetch(pool)
        dense = self._dense(query_vec, fetch, groups) if query_vec is not None else _EMPTY
        lexical = self._bm25.search(query, fetch) if mode != "dense" else _EMPTY
        exhausted = len(dense[0]) < fetch and len(lexical[0]) < fetch
        keep = fetch if exhausted else pool  # exhausted: everything that matched, or ACLs could hide it all
        return (windows.best_per_chunk(*dense, self._stride, keep),
                windows.best_per_chunk(*lexical, self._stride, keep), exhausted)

    def _rank(self, mode: str, dense, lexical) -> list[tuple[int, float]]:
        if mode == "dense":
            return list(zip(dense[0].tolist(), dense[1].tolist()))
        if mode == "bm25":
            return list(zip(lexical[0].tolist(), lexical[1].tolist()))
        cfg = self.config
        return fuse(cfg.fusion, dense, lexical, rrf_k=cfg.rrf_k, dense_weight=cfg.dense_weight,
                    bm25_weight=cfg.bm25_weight)

    def _rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        if self.config.reranker is None:
            raise ValueError("rerank=True needs a cross-encoder folder: set `reranker` in the index config "
                             "(IndexConfig.reranker, or retrieval.reranker_path in the settings)")
        if self._reranker is None:
            from retriever.rerank import Reranker

            self._reranker = Reranker(self.config.reranker)
        scores = self._reranker.scores(query, [f"{h.chunk.title}\n{h.chunk.text}" for h in hits])
        for h, s in zip(hits, scores.tolist()):
            h.scores["rerank"] = s
            h.score = s
        return sorted(hits, key=lambda h: -h.score)

    def close(self) -> None:
        """Close the chunk store's database connection; the index is unusable afterwards."""
        self.store.close()


_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def _load_generation(gen: Path) -> tuple[Store, dict[str, Any], VectorStore, BM25Index]:
    store = Store(gen / STORE_FILE, readonly=True)
    manifest = store.get_meta("manifest")
    if not manifest:
        store.close()
        raise CorruptIndexError("no manifest in store.sqlite")
    config = IndexConfig.model_validate(manifest["config"])
    catalog = None
    if not (gen / CATALOG).is_file() and manifest.get("format", 1) < 3:
        # Built before vector stores saved their catalog: the same facts (document, ACL, ids) are in SQLite.
        stride = windows.STRIDE if manifest.get("format", 1) >= 2 else 1
        dim = manifest["model"]["dim"]
        catalog = Catalog.from_rows((s, acl, ids) for s, acl, ids, _ in
                                    store.document_vectors(dim, stride, vectors=False))
    return store, manifest, open_store(gen, config, catalog), BM25Index.load(gen / "bm25")
