"""The reranker benchmark's scoring (bench/finetune_reranker.py): the three orders it compares are orders of
the same hybrid candidates, and its metrics follow the rank of the gold chunk in each."""
from __future__ import annotations

from bench.finetune_reranker import ORDERS, rrf, score
from retriever.index import Index

QUERIES = ("UART baud rate", "DMA descriptors", "reset of each block", "placement flow")


def _index(index_dir, cross_encoder):
    index = Index.open(index_dir)
    index.config = index.config.model_copy(update={"reranker": cross_encoder, "rerank_candidates": 5})
    return index


def test_rrf_orders_the_same_candidates_and_keeps_agreement_first(mini_index_master, tiny_cross_encoder):
    index = _index(mini_index_master[1], tiny_cross_encoder)
    for query in QUERIES:
        hybrid = index.search(query, k=5)
        reranked = index.search(query, k=5, rerank=True)
        fused = rrf(hybrid, reranked)
        assert sorted(h.chunk.id for h in fused) == sorted(h.chunk.id for h in hybrid)
        if hybrid[0].chunk.id == reranked[0].chunk.id:  # first in both orders: first fused
            assert fused[0].chunk.id == hybrid[0].chunk.id


def test_score_counts_the_gold_chunks_rank_in_each_order(mini_index_master, tiny_cross_encoder):
    index = _index(mini_index_master[1], tiny_cross_encoder)
    # gold = the hybrid's own first result: hybrid hit@1 is 1 by construction, the others can only be lower
    items = [(q, {index.search(q, k=1)[0].chunk.id}) for q in QUERIES]
    res = score(index, items, 5, by_id=True)
    assert set(res) == set(ORDERS)
    assert res["hybrid"] == {"hit@1": 1.0, "hit@5": 1.0, "hit@10": 1.0, "mrr@10": 1.0}
    for order in ORDERS[1:]:
        m = res[order]
        assert m["hit@5"] == 1.0  # same 5 candidates, reordered
        assert 0.0 <= m["hit@1"] <= m["mrr@10"] <= 1.0
    missing = score(index, [(QUERIES[0], {"no/such#0"})], 5, by_id=True)
    assert all(v == 0.0 for m in missing.values() for v in m.values())
