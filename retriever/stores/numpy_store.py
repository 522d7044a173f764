"""An exact in-memory ``VectorStore`` in plain numpy (``IndexConfig.store: numpy``).

Each document's vectors are one block; a search stacks the blocks once (cached until the store changes)
and scores every visible vector by inner product, then takes the top ``k`` with ``argpartition``. Exact,
dependency-free and simple: a reference for the contract tests and a store for small corpora. Saved as
``vectors.npz`` (ids and vectors) plus the shared catalog (``retriever.stores.catalog``).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from corpora.atomic import atomic_write
from retriever.stores.base import Groups, check_block, check_queries, empty_result
from retriever.stores.catalog import CATALOG, Catalog

if TYPE_CHECKING:
    from retriever.config import IndexConfig

FILE = "vectors.npz"


class NumpyStore:
    """A ``VectorStore`` holding every vector in memory; exact inner-product search."""

    name: ClassVar[str] = "numpy"

    def __init__(self, dim: int, catalog: Catalog, blocks: dict[str, np.ndarray] | None = None) -> None:
        self.dim = int(dim)
        self._catalog = catalog
        self._blocks: dict[str, np.ndarray] = blocks or {}  # document -> (n, dim) vectors, rows = catalog ids
        self._stacked: tuple[np.ndarray, np.ndarray] | None = None
        self._masks: dict[frozenset[str], np.ndarray | None] = {}

    @classmethod
    def create(cls, dim: int, config: "IndexConfig | None" = None, train: np.ndarray | None = None) -> "NumpyStore":
        """An empty store for ``dim``-dimensional vectors (``config`` and ``train`` are not needed)."""
        return cls(dim, Catalog())

    @classmethod
    def open(cls, folder: Path, config: "IndexConfig | None" = None, catalog: Catalog | None = None) -> "NumpyStore":
        """Load ``folder``'s vectors and catalog; an id the catalog lists but the file lacks is an error."""
        path = Path(folder) / FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: this generation was not built with `store: numpy`; "
                                    f"rebuild the index with `chipassist index PATH --index DIR --rebuild`")
        catalog = catalog if catalog is not None else Catalog.load(Path(folder) / CATALOG)
        with np.load(path, allow_pickle=False) as data:
            ids, vectors = data["ids"], data["vectors"]
        row = {int(i): n for n, i in enumerate(ids.tolist())}
        try:
            blocks = {d: vectors[[row[int(i)] for i in catalog.ids(d).tolist()]] for d in catalog.documents()}
        except KeyError as e:
            raise ValueError(f"{path} lacks vector id {e} that its catalog lists: the generation is damaged; "
                             f"rebuild the index") from None
        return cls(int(vectors.shape[1]), catalog, blocks)

    def _changed(self) -> None:
        self._stacked, self._masks = None, {}

    def add(self, document: str, ids: np.ndarray, vectors: np.ndarray, acl: Sequence[str]) -> None:
        """Add (a copy of) one document's vectors under its ``acl``, checked first."""
        ids, vectors = check_block(self.dim, document, ids, vectors)
        self._catalog.add(document, ids, acl)
        self._blocks[document] = vectors.copy()
        self._changed()

    def delete(self, document: str) -> int:
        """Remove ``document``'s vectors; returns how many (0 when it was not in the store)."""
        n = len(self._catalog.delete(document))
        self._blocks.pop(document, None)
        self._changed()
        return n

    def set_acl(self, document: str, acl: Sequence[str]) -> None:
        """Give ``document`` new groups; only the catalog and the cached masks change."""
        self._catalog.set_acl(document, acl)
        self._changed()

    def count(self) -> int:
        """Vectors in the store."""
        return len(self._catalog)

    def documents(self) -> list[str]:
        """The sources of the documents in the store, in insertion order."""
        return self._catalog.documents()

    def _stack(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every document, stacked in catalog order."""
        if self._stacked is None:
            docs = self._catalog.documents()
            ids = np.concatenate([self._catalog.ids(d) for d in docs]) if docs else np.zeros(0, np.int64)
            vecs = np.concatenate([self._blocks[d] for d in docs]) if docs else np.zeros((0, self.dim), np.float32)
            self._stacked = (ids, vecs)
        return self._stacked

    def _mask(self, groups: Groups, ids: np.ndarray) -> np.ndarray | None:
        key = frozenset([groups] if isinstance(groups, str) else (groups or ()))
        if key not in self._masks:
            allowed = self._catalog.allowed(key)
            self._masks[key] = None if allowed is None else np.isin(ids, allowed)
        return self._masks[key]

    def search(self, queries: np.ndarray, k: int, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
        """Exact inner-product top ``k`` per query over the vectors ``groups`` may see (restricted vectors
        are masked out before scoring, never scored and dropped)."""
        q = check_queries(self.dim, queries, k)
        ids, vecs = self._stack()
        width = min(k, len(ids))
        mask = self._mask(groups, ids)
        if mask is not None:
            ids, vecs = ids[mask], vecs[mask]  # restricted vectors are never scored
        out_ids, out_scores = empty_result(len(q), width)
        n = min(width, len(ids))
        if n == 0:
            return out_ids, out_scores
        scores = q @ vecs.T
        top = np.argpartition(-scores, n - 1, axis=1)[:, :n] if n < len(ids) else np.tile(np.arange(len(ids)), (len(q), 1))
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        best = np.take_along_axis(top, order, axis=1)
        out_ids[:, :n] = ids[best]
        out_scores[:, :n] = np.take_along_axis(scores, best, axis=1)
        return out_ids, out_scores

    def snapshot(self, folder: Path) -> list[str]:
        """Write the vectors, their ids and the catalog into ``folder`` atomically; returns the file names."""
        folder = Path(folder)
        ids, vecs = self._stack()
        atomic_write(folder / FILE, lambda fh: np.savez(fh, ids=ids, vectors=vecs))
        atomic_write(folder / CATALOG, self._catalog.save)
        return [FILE, CATALOG]
