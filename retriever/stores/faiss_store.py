"""The default ``VectorStore``: a FAISS inner-product index keyed by vector id (``IndexConfig.store: faiss``).

``flat`` (exact, the default) and ``ivfpq`` sit inside an ``IndexIDMap2``, so deleting a document removes
its ids in place. HNSW graphs cannot delete: their deletions are collected and the graph is rebuilt from
its own stored vectors (``IndexHNSWFlat`` keeps them exactly) before the next add, search or snapshot, so
a build with many removals rebuilds once, and nothing is re-embedded. Vectors are L2-normalised upstream,
so inner product = cosine.

ACLs are applied inside FAISS: for a caller who may not see every document, the search carries an
``IDSelectorBitmap`` of the ids it may see (cached per group set until the store changes), so a restricted
id is never a candidate and ``k`` is filled from visible vectors. When every document is visible to the
caller no selector is passed and the search costs what it did before.

Threads: a single query runs on one OpenMP thread. Splitting one flat/HNSW search across threads costs
more in start-up and synchronisation than it saves (measured on the whole-corpus index, 2 cores: hybrid
p50 22 ms -> 9.7 ms); batches (hard-negative mining) keep every thread.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import faiss
import numpy as np

from corpora.atomic import atomic_write
from retriever.stores.base import Groups, check_block, check_queries, empty_result
from retriever.stores.catalog import CATALOG, Catalog

if TYPE_CHECKING:
    from retriever.config import IndexConfig

FILE = "vectors.faiss"


def new_index(dim: int, config: "IndexConfig", train: np.ndarray | None = None) -> faiss.Index:
    """An empty id-mapped index of the configured type (IVF-PQ is trained on ``train``; without any
    training vectors it falls back to flat, as an empty corpus has nothing to train on)."""
    kind = config.faiss if config.faiss != "ivfpq" or (train is not None and len(train)) else "flat"
    if kind == "hnsw":
        inner_index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner_index.hnsw.efConstruction = config.hnsw_ef_construction
        inner_index.hnsw.efSearch = config.hnsw_ef_search
    elif kind == "ivfpq":
        if dim % config.pq_m:
            raise ValueError(f"pq_m={config.pq_m} must divide the embedding dimension {dim}")
        # Small corpora cannot fill nlist cells or 2**bits centroids: shrink rather than fail.
        nlist = max(1, min(config.ivf_nlist, len(train) // 39))
        bits = max(1, min(config.pq_bits, int(np.log2(len(train)))))
        quantizer = faiss.IndexFlatIP(dim)
        inner_index = faiss.IndexIVFPQ(quantizer, dim, nlist, config.pq_m, bits, faiss.METRIC_INNER_PRODUCT)
        inner_index.train(np.ascontiguousarray(train, dtype=np.float32))
        inner_index.nprobe = min(config.ivf_nprobe, nlist)
    else:
        inner_index = faiss.IndexFlatIP(dim)
    return faiss.IndexIDMap2(inner_index)


def inner(index: faiss.Index) -> faiss.Index:
    """The index inside the id map (IndexFlatIP, IndexHNSWFlat or IndexIVFPQ)."""
    return faiss.downcast_index(faiss.downcast_index(index).index)


class FaissStore:
    """A ``VectorStore`` over one FAISS index plus its ``Catalog``. Thread-safe for concurrent searches."""

    name: ClassVar[str] = "faiss"

    def __init__(self, index: faiss.Index, config: "IndexConfig", catalog: Catalog) -> None:
        self._index = index  # not downcast again: the wrapper new_index returns keeps the inner index alive
        self._config = config
        self._catalog = catalog
        self.dim = int(index.d)
        self._pending: set[int] = set()  # HNSW ids deleted but still in the graph (see _flush)
        self._selectors: dict[frozenset[str], tuple | str | None] = {}  # group set -> id selector (`_selector`)
        self._selectors_lock = threading.Lock()  # concurrent first searches (API worker threads) build a selector once

    @classmethod
    def create(cls, dim: int, config: "IndexConfig", train: np.ndarray | None = None) -> "FaissStore":
        """An empty store of the FAISS index type ``config.faiss`` (``train``: IVF training vectors)."""
        return cls(new_index(dim, config, train), config, Catalog())

    @classmethod
    def open(cls, folder: Path, config: "IndexConfig", catalog: Catalog | None = None) -> "FaissStore":
        """Load ``folder``'s FAISS file and catalog; a vector count that differs from the catalog's is an
        error (a damaged generation), never a silently wrong index."""
        path = Path(folder) / FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: rebuild the index with `chipassist index PATH --index DIR "
                                    f"--rebuild`")
        index = faiss.read_index(str(path))
        catalog = catalog if catalog is not None else Catalog.load(Path(folder) / CATALOG)
        if len(catalog) != index.ntotal:
            raise ValueError(f"{path} holds {index.ntotal} vectors but its catalog {len(catalog)}: the generation "
                             f"is damaged; rebuild the index")
        return cls(index, config, catalog)

    @property
    def faiss_index(self) -> faiss.Index:
        """The FAISS index inside the id map (for inspection: IndexFlatIP, IndexHNSWFlat or IndexIVFPQ)."""
        self._flush()
        return inner(self._index)

    def _changed(self) -> None:
        """Forget the cached id selectors (ids or ACLs changed); searches in flight hold their own."""
        with self._selectors_lock:
            self._selectors.clear()

    # -- writes --------------------------------------------------------------------------------
    def add(self, document: str, ids: np.ndarray, vectors: np.ndarray, acl: Sequence[str]) -> None:
        """Add one document's vectors under its ``acl``; checked first, so a bad block changes nothing."""
        ids, vectors = check_block(self.dim, document, ids, vectors)
        self._flush()  # a deleted HNSW id may come back: drop the old one first
        self._catalog.add(document, ids, acl)
        if len(ids):
            self._index.add_with_ids(vectors, ids)
        self._changed()

    def delete(self, document: str) -> int:
        """Remove ``document``'s vectors (HNSW: marked now, dropped from the graph before the next read);
        returns how many."""
        ids = self._catalog.delete(document)
        if len(ids):
            if isinstance(inner(self._index), faiss.IndexHNSW):
                self._pending.update(ids.tolist())
            else:
                self._index.remove_ids(ids)
        self._changed()
        return len(ids)

    def set_acl(self, document: str, acl: Sequence[str]) -> None:
        """Give ``document`` new groups; only the catalog changes, the cached ACL selectors are dropped."""
        self._catalog.set_acl(document, acl)
        self._changed()

    def _flush(self) -> None:
        """Rebuild an HNSW graph without its deleted ids, from the vectors the graph stores."""
        if not self._pending:
            return
        id_map = faiss.vector_to_array(self._index.id_map)
        vectors = inner(self._index).reconstruct_n(0, self._index.ntotal)
        keep = ~np.isin(id_map, np.fromiter(self._pending, dtype=np.int64))
        index = new_index(self.dim, self._config.model_copy(update={"faiss": "hnsw"}))
        if keep.any():
            index.add_with_ids(np.ascontiguousarray(vectors[keep]), id_map[keep])
        self._index, self._pending = index, set()
        self._changed()

    # -- reads ---------------------------------------------------------------------------------
    def count(self) -> int:
        """Vectors in the store (the catalog's count, so HNSW ids pending deletion are not counted)."""
        return len(self._catalog)

    def documents(self) -> list[str]:
        """The sources of the documents in the store, in insertion order."""
        return self._catalog.documents()

    def _selector(self, groups: Groups) -> tuple | str | None:
        """The id filter for ``groups``: None when all is visible, "none" when nothing is, else the cached
        (IDSelectorBitmap, bitmap) pair (FAISS keeps a raw pointer to the bitmap: the pair keeps it alive).

        The caller holds the returned pair until its search ends, so a concurrent change (``_changed``
        clears the cache) cannot free it mid-search; the lock makes concurrent first searches build it once."""
        key = frozenset([groups] if isinstance(groups, str) else (groups or ()))
        with self._selectors_lock:
            if key not in self._selectors:
                self._selectors[key] = self._build_selector(key)
            return self._selectors[key]

    def _build_selector(self, key: frozenset[str]) -> tuple | str | None:
        """The id filter of one group set (see `_selector`)."""
        allowed = self._catalog.allowed(key)
        if allowed is None:
            return None
        if not len(allowed):
            return "none"
        bits = np.zeros(int(allowed[-1]) + 1, dtype=bool)
        bits[allowed] = True
        bitmap = np.packbits(bits, bitorder="little")  # FAISS tests bit (id & 7) of byte id >> 3
        return faiss.IDSelectorBitmap(bitmap), bitmap

    def _params_for(self, sel) -> "faiss.SearchParameters":
        """Fresh search parameters around a shared selector, one object per search: FAISS's IndexIDMap
        swaps ``params.sel`` for a translating selector during a search, so parameters shared between
        threads are not read-only (20 concurrent API clients segfaulted on a shared one)."""
        idx = inner(self._index)
        if isinstance(idx, faiss.IndexIVF):
            return faiss.SearchParametersIVF(sel=sel, nprobe=idx.nprobe)
        if isinstance(idx, faiss.IndexHNSW):
            return faiss.SearchParametersHNSW(sel=sel, efSearch=idx.hnsw.efSearch)
        return faiss.SearchParameters(sel=sel)

    def search(self, queries: np.ndarray, k: int, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best (ids, scores) per query among what ``groups`` may see, filtered inside FAISS
        by an id bitmap; one query runs on one OpenMP thread (faster than two, issue 16), batches on all."""
        q = check_queries(self.dim, queries, k)
        self._flush()
        width = min(k, self.count())
        held = self._selector(groups)  # held to the end of this call: it keeps the selector alive
        if width == 0 or held == "none":  # the caller may see nothing
            return empty_result(len(q), width)
        params = None if held is None else self._params_for(held[0])
        if len(q) == 1:
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                scores, ids = self._index.search(q, width, params=params)
            finally:
                faiss.omp_set_num_threads(threads)
        else:
            scores, ids = self._index.search(q, width, params=params)
        scores[ids < 0] = -np.inf
        return ids, scores

    # -- persistence ---------------------------------------------------------------------------
    def snapshot(self, folder: Path) -> list[str]:
        """Write the index and its catalog into ``folder`` atomically; returns the file names written."""
        self._flush()
        folder = Path(folder)
        atomic_write(folder / FILE, lambda p: faiss.write_index(self._index, str(p)), by_path=True)
        atomic_write(folder / CATALOG, self._catalog.save)
        return [FILE, CATALOG]
