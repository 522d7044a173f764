"""The FAISS vector store passes the store contract (flat and HNSW) and searches single queries on one thread."""
from __future__ import annotations

import faiss
import numpy as np
import pytest

from retriever.config import IndexConfig
from retriever.stores import FaissStore

from .store_contract import DIM, VectorStoreContract, fill, _unit


class TestFaissFlat(VectorStoreContract):
    @pytest.fixture
    def config(self):
        return IndexConfig()


class TestFaissHnsw(VectorStoreContract):
    """HNSW cannot delete in place: the store rebuilds its graph from the vectors it holds."""

    @pytest.fixture
    def config(self):
        return IndexConfig(faiss="hnsw", hnsw_m=8)


def test_single_queries_run_on_one_thread_and_batches_on_all(monkeypatch):
    store = fill(FaissStore.create(DIM, IndexConfig()))
    faiss.omp_set_num_threads(2)
    calls: list[int] = []
    real = faiss.omp_set_num_threads
    monkeypatch.setattr(faiss, "omp_set_num_threads", lambda n: (calls.append(n), real(n))[1])
    store.search(_unit(1, 5)[0], 3, None)
    assert calls == [1, 2] and faiss.omp_get_max_threads() == 2  # one thread, then restored
    calls.clear()
    store.search(_unit(8, 5), 3, None)
    assert calls == []  # a batch keeps every thread


def test_acl_filter_runs_inside_faiss():
    """A caller who may not see everything searches with an id selector, so FAISS never ranks hidden ids."""
    store = fill(FaissStore.create(DIM, IndexConfig()))
    assert store._selector(None) is not None and store._selector(["soc-team", "other-team"]) is None
    ids, _ = store.search(np.tile(_unit(1, 2), (2, 1)), 10, None)
    assert set(ids.ravel().tolist()) - {-1} == {64, 65, 66, 67}
