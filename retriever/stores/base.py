"""The ``VectorStore`` protocol: the dense half of an index, behind one interface every backend implements.

An index (``retriever.index``) keeps chunk text, ACLs and BM25 itself; it hands a vector store one block of
vectors per document and asks it for the nearest vector ids. The store is told each document's ACL and
applies the caller's groups *inside* ``search``: a vector whose document the caller may not see is never
returned, and ``k`` is still filled from the visible ones when there are enough. Ids are opaque int64s
to the store (the index uses passage-window ids, ``retriever.windows``).

Persistence follows the index layout (``retriever.layout``): a build opens the live generation's store,
changes it in memory, ``snapshot``-s it into the staging folder and ``layout.commit`` renames that folder
into the next generation. Each file is written atomically (``corpora.atomic.atomic_write``), so a generation never holds
a half-written file. Implementations: ``faiss`` (default, ``faiss_store``) and ``numpy`` (exact, in
memory, ``numpy_store``), chosen by ``IndexConfig.store``; ``tests/retriever/store_contract.py`` is the
contract every implementation passes.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from retriever.config import IndexConfig

Groups = Iterable[str] | str | None


@runtime_checkable
class VectorStore(Protocol):
    """Vectors of documents' chunks, searchable by inner product, filtered by the caller's groups."""

    name: ClassVar[str]  # the IndexConfig.store value that selects this implementation
    dim: int

    @classmethod
    def create(cls, dim: int, config: "IndexConfig", train: np.ndarray | None = None) -> "VectorStore":
        """An empty store for ``dim``-dimensional vectors (``train``: sample vectors, for trained indexes)."""
        ...

    @classmethod
    def open(cls, folder: Path, config: "IndexConfig", catalog=None) -> "VectorStore":
        """Load the store a ``snapshot`` wrote into ``folder`` (``catalog``: for generations without one).

        Raises FileNotFoundError naming the missing file."""
        ...

    def add(self, document: str, ids: np.ndarray, vectors: np.ndarray, acl: Sequence[str]) -> None:
        """Add one document's vectors (rows of ``vectors``, ids in ``ids``), visible to ``acl``'s groups.

        Raises ValueError naming the field (``vectors``, ``ids``, ``document``) on a wrong dimension, a
        length mismatch, a duplicate id or a document already present (delete it first)."""
        ...

    def delete(self, document: str) -> int:
        """Remove every vector of ``document``; returns how many (0 when it was not in the store)."""
        ...

    def set_acl(self, document: str, acl: Sequence[str]) -> None:
        """Give ``document``'s vectors new groups without touching the vectors (KeyError if absent)."""
        ...

    def search(self, queries: np.ndarray, k: int, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best (ids, scores) per query that a caller in ``groups`` may see (None: public only).

        ``queries`` is (dim,) or (n, dim); both results are (n, min(k, count())), best first, padded with
        id -1 and score -inf where fewer visible vectors exist. A single query runs single-threaded (see
        ``faiss_store``); batches use every thread."""
        ...

    def count(self) -> int:
        """How many vectors the store holds (every document, whatever the caller's groups)."""
        ...

    def documents(self) -> list[str]:
        """The documents with vectors in the store."""
        ...

    def snapshot(self, folder: Path) -> list[str]:
        """Write the store's files into ``folder`` (a staging generation), each atomically; returns their names."""
        ...


# -- helpers shared by the implementations -------------------------------------------------------------

def check_block(dim: int, document: str, ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, vectors)`` as int64 / contiguous float32, or ValueError naming the field that is wrong."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors: expected shape (n, {dim}) for document {document!r}, got {vectors.shape}; "
                         f"the store holds {dim}-dimensional vectors (another embedding model?)")
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if len(ids) != len(vectors):
        raise ValueError(f"ids: {len(ids)} ids for {len(vectors)} vectors of document {document!r}")
    return ids, np.ascontiguousarray(vectors)


def check_queries(dim: int, queries: np.ndarray, k: int) -> np.ndarray:
    """Queries as a contiguous (n, dim) float32 matrix, or ValueError naming ``queries`` / ``k``."""
    q = np.asarray(queries, dtype=np.float32)
    q = q.reshape(1, -1) if q.ndim == 1 else q
    if q.ndim != 2 or q.shape[1] != dim:
        raise ValueError(f"queries: expected dimension {dim}, got shape {np.shape(queries)}; the store holds "
                         f"{dim}-dimensional vectors (another embedding model?)")
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    return np.ascontiguousarray(q)


def empty_result(n: int, width: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, scores)`` of ``n`` queries with nothing found: ids -1, scores -inf."""
    return np.full((n, width), -1, np.int64), np.full((n, width), -np.inf, np.float32)
