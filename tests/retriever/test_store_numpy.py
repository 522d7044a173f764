"""The in-memory numpy vector store passes the store contract."""
from __future__ import annotations

import pytest

from retriever.config import IndexConfig

from .store_contract import VectorStoreContract


class TestNumpyStore(VectorStoreContract):
    @pytest.fixture
    def config(self):
        return IndexConfig(store="numpy")
