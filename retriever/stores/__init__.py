"""Vector stores: the ``VectorStore`` protocol (``base``) and its implementations, chosen by ``IndexConfig.store``.

Adding a backend is one module with a class that follows ``base.VectorStore``, one entry in ``STORES``,
one value in ``config.StoreType`` and one small test file subclassing ``tests/retriever/store_contract.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retriever.stores.base import VectorStore
from retriever.stores.catalog import CATALOG, Catalog
from retriever.stores.faiss_store import FaissStore
from retriever.stores.numpy_store import NumpyStore

if TYPE_CHECKING:
    from retriever.config import IndexConfig

__all__ = ["VectorStore", "Catalog", "CATALOG", "FaissStore", "NumpyStore", "STORES", "create_store", "open_store"]

STORES: dict[str, type] = {FaissStore.name: FaissStore, NumpyStore.name: NumpyStore}


def store_class(name: str) -> type:
    """The implementation registered as ``name`` (ValueError naming ``store`` for an unknown one)."""
    try:
        return STORES[name]
    except KeyError:
        raise ValueError(f"store: unknown vector store {name!r} (choose from {', '.join(STORES)})") from None


def create_store(config: "IndexConfig", dim: int, train: np.ndarray | None = None) -> VectorStore:
    """An empty store of the configured kind."""
    return store_class(config.store).create(dim, config, train)


def open_store(folder: Path, config: "IndexConfig", catalog: Catalog | None = None) -> VectorStore:
    """The configured kind of store saved in ``folder`` (``catalog``: for generations saved without one)."""
    return store_class(config.store).open(Path(folder), config, catalog)
