"""The contract every ``retriever.stores.VectorStore`` passes (the shape of haystack's testing/document_store.py).

Each concern is one mixin of tests over a ``config`` fixture (an ``IndexConfig`` selecting the store);
``VectorStoreContract`` combines them. An implementation's test file subclasses it and overrides ``config``::

    class TestNumpyStore(VectorStoreContract):
        @pytest.fixture
        def config(self):
            return IndexConfig(store="numpy")

Vectors are random but seeded; expected rankings come from brute-force inner products in numpy. Ids are
passage-window ids as the index uses them (``vid * 64 + j``), so large, sparse ids are exercised.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from retriever import layout
from retriever.config import IndexConfig
from retriever.stores import STORES, VectorStore, create_store, open_store

DIM = 16
TEAM = "soc-team"
# document -> (ACL, vector ids)
DOCS = {
    "docs/uart.md": (["public"], [64, 65, 66, 67]),
    "docs/restricted/tapeout.md": ([TEAM], [128, 129, 130, 131]),
    "docs/other/secret.md": (["other-team"], [192, 193]),
}


def _unit(rows: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


VECTORS = {doc: _unit(len(ids), seed) for seed, (doc, (_, ids)) in enumerate(DOCS.items())}


def fill(store: VectorStore, docs: dict = DOCS) -> VectorStore:
    for doc, (acl, ids) in docs.items():
        store.add(doc, np.asarray(ids), VECTORS[doc], acl)
    return store


def brute_force(query: np.ndarray, docs: list[str]) -> list[int]:
    """Ids of ``docs``'s vectors by descending inner product with ``query``."""
    ids = np.concatenate([DOCS[d][1] for d in docs])
    scores = np.concatenate([VECTORS[d] for d in docs]) @ query
    return ids[np.argsort(-scores, kind="stable")].tolist()


class _Base:
    @pytest.fixture
    def config(self) -> IndexConfig:
        """The IndexConfig selecting the implementation under test (override in each test file)."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, config) -> VectorStore:
        return create_store(config, DIM)


class CountTests(_Base):
    def test_empty_store(self, store):
        assert store.count() == 0 and store.documents() == []
        ids, scores = store.search(_unit(1, 9)[0], 5, None)
        assert ids.shape == scores.shape == (1, 0)

    def test_count_counts_vectors_of_every_document(self, store):
        fill(store)
        assert store.count() == 10
        assert sorted(store.documents()) == sorted(DOCS)
        assert isinstance(store, VectorStore) and type(store) is STORES[store.name]


class AddSearchTests(_Base):
    def test_search_is_best_first_by_inner_product(self, store):
        fill(store)
        query = VECTORS["docs/uart.md"][2]
        ids, scores = store.search(query, 3, ["public"])
        assert ids.tolist() == [brute_force(query, ["docs/uart.md"])[:3]]
        assert ids[0, 0] == 66 and scores[0, 0] == pytest.approx(1.0, abs=1e-4)
        assert (np.diff(scores[0]) <= 1e-6).all()

    def test_batch_search_matches_single_queries(self, store):
        fill(store)
        queries = _unit(3, 7)
        batch_ids, _ = store.search(queries, 4, [TEAM])
        for q, row in zip(queries, batch_ids):
            assert store.search(q, 4, [TEAM])[0][0].tolist() == row.tolist()

    def test_adding_a_document_twice_or_a_taken_id_fails(self, store):
        fill(store)
        with pytest.raises(ValueError, match="already in the vector store"):
            store.add("docs/uart.md", np.asarray([999]), _unit(1, 3), ["public"])
        with pytest.raises(ValueError, match="ids"):
            store.add("docs/new.md", np.asarray([64]), _unit(1, 3), ["public"])
        assert store.count() == 10

    def test_dimension_mismatch_names_the_field(self, store):
        with pytest.raises(ValueError, match=r"vectors: expected shape \(n, 16\)"):
            store.add("docs/a.md", np.asarray([1, 2]), np.zeros((2, DIM + 1), np.float32), ["public"])
        with pytest.raises(ValueError, match="ids: 1 ids for 2 vectors"):
            store.add("docs/a.md", np.asarray([1]), _unit(2, 1), ["public"])
        fill(store)
        with pytest.raises(ValueError, match="queries: expected dimension 16"):
            store.search(np.zeros(DIM - 1, np.float32), 3, None)
        assert store.count() == 10  # a rejected add changes nothing


class DeleteTests(_Base):
    def test_delete_by_document(self, store):
        fill(store)
        assert store.delete("docs/uart.md") == 4
        assert store.count() == 6 and "docs/uart.md" not in store.documents()
        ids, _ = store.search(VECTORS["docs/uart.md"][0], 10, [TEAM, "other-team"])
        assert not set(ids[0].tolist()) & set(DOCS["docs/uart.md"][1])
        assert store.delete("docs/uart.md") == 0 and store.delete("never/added.md") == 0

    def test_delete_then_add_again(self, store):
        fill(store)
        store.delete("docs/restricted/tapeout.md")
        store.add("docs/restricted/tapeout.md", np.asarray([128, 129]), VECTORS["docs/uart.md"][:2], [TEAM])
        ids, scores = store.search(VECTORS["docs/uart.md"][0], 1, [TEAM])
        assert ids[0, 0] in (64, 128) and scores[0, 0] == pytest.approx(1.0, abs=1e-4)
        assert store.count() == 8


class AclTests(_Base):
    def test_restricted_vectors_never_leave_the_store(self, store):
        fill(store)
        query = VECTORS["docs/restricted/tapeout.md"][0]  # the nearest vector is restricted
        for groups in (None, [], ["public"], ["unrelated"], "unrelated"):
            ids, _ = store.search(query, 10, groups)
            found = [i for i in ids[0].tolist() if i >= 0]
            assert found == brute_force(query, ["docs/uart.md"]), groups  # k filled with every visible one

    def test_k_is_filled_from_visible_vectors(self, store):
        fill(store)
        query = VECTORS["docs/restricted/tapeout.md"][1]
        ids, scores = store.search(query, 3, None)
        assert ids.tolist() == [brute_force(query, ["docs/uart.md"])[:3]]
        ids, scores = store.search(query, 6, None)  # only 4 visible: padded
        assert ids[0, 4:].tolist() == [-1, -1] and np.isneginf(scores[0, 4:]).all()

    def test_group_members_see_their_documents(self, store):
        fill(store)
        query = VECTORS["docs/restricted/tapeout.md"][1]
        ids, _ = store.search(query, 1, [TEAM])
        assert ids[0, 0] == 129
        ids, _ = store.search(query, 10, TEAM)
        assert not set(ids[0].tolist()) & set(DOCS["docs/other/secret.md"][1])
        ids, _ = store.search(query, 10, [TEAM, "other-team"])
        assert sorted(i for i in ids[0].tolist() if i >= 0) == sorted(i for _, v in DOCS.values() for i in v)

    def test_concurrent_searches_agree_with_sequential_ones(self, store):
        # the API and the UI search from many worker threads at once; FAISS mutates shared search
        # parameters inside IndexIDMap, which segfaulted 20 API clients before each search got its own
        fill(store)
        queries = [(VECTORS[d][i], g) for d in VECTORS for i in range(2) for g in (None, [TEAM], "unrelated")]
        expected = [store.search(q, 5, g)[0].tolist() for q, g in queries]
        with ThreadPoolExecutor(16) as pool:
            for _ in range(5):
                got = list(pool.map(lambda qg: store.search(qg[0], 5, qg[1])[0].tolist(), queries * 4))
                assert got == expected * 4

    def test_nothing_visible(self, store):
        store.add("docs/restricted/tapeout.md", np.asarray([128]), VECTORS["docs/uart.md"][:1], [TEAM])
        ids, _ = store.search(VECTORS["docs/uart.md"][0], 3, None)
        assert (ids == -1).all()

    def test_set_acl_changes_who_sees_a_document(self, store):
        fill(store)
        query = VECTORS["docs/uart.md"][0]
        store.search(query, 3, None)  # fill any per-group cache first
        store.set_acl("docs/uart.md", [TEAM])
        ids, _ = store.search(query, 10, None)
        assert (ids == -1).all()
        assert store.search(query, 1, [TEAM])[0][0, 0] == 64
        with pytest.raises(KeyError):
            store.set_acl("never/added.md", ["public"])


class PersistenceTests(_Base):
    def _round_trip(self, store, config, tmp_path) -> VectorStore:
        index_dir = tmp_path / "index"
        index_dir.mkdir()
        staging = layout.new_staging(index_dir)
        names = store.snapshot(staging)
        assert names and all((staging / n).is_file() for n in names)
        assert not [p for p in staging.iterdir() if ".tmp-" in p.name]  # atomic writes leave no temp files
        gen = layout.commit(index_dir, staging)
        return open_store(layout.current_generation(index_dir), config) if gen else None

    def test_snapshot_commit_round_trip(self, store, config, tmp_path):
        fill(store)
        store.delete("docs/other/secret.md")
        store.set_acl("docs/uart.md", [TEAM, "public"])
        queries = _unit(4, 11)
        before = store.search(queries, 5, None)
        loaded = self._round_trip(store, config, tmp_path)
        assert loaded.count() == 8 and set(loaded.documents()) == {"docs/uart.md", "docs/restricted/tapeout.md"}
        after = loaded.search(queries, 5, None)
        assert after[0].tolist() == before[0].tolist()
        np.testing.assert_allclose(after[1], before[1], rtol=1e-5)
        assert loaded.delete("docs/uart.md") == 4  # the document index survived too
        ids, _ = loaded.search(VECTORS["docs/restricted/tapeout.md"][0], 3, None)
        assert (ids == -1).all()  # and the ACLs

    def test_empty_store_round_trip(self, store, config, tmp_path):
        loaded = self._round_trip(store, config, tmp_path)
        assert loaded.count() == 0 and loaded.dim == DIM
        fill(loaded)
        assert loaded.count() == 10

    def test_missing_files_name_the_file(self, config, tmp_path):
        with pytest.raises(FileNotFoundError, match="rebuild"):
            open_store(tmp_path, config)


class VectorStoreContract(CountTests, AddSearchTests, DeleteTests, AclTests, PersistenceTests):
    """Every test of the contract; subclass it and override the ``config`` fixture."""
