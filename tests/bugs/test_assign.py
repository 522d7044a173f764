"""Owner ranking from resolved bugs: the component owner first, reasons given, embeddings cached,
and the fused ranking at least as good as the majority-owner baseline on a synthetic tracker."""
from __future__ import annotations

import pytest

from assistant.bugs import assign
from assistant.bugs.assign import AssignConfig, BugEmbeddings, OwnerRanker, triage_text
from assistant.bugs.evaluate import leave_one_out
from bench.gen_synthetic_bugs import generate
from corpora.types import BugRecord
from tests.bugs.conftest import history_bugs, long_thread_bug


@pytest.fixture()
def bugs() -> list[BugRecord]:
    return [BugRecord.model_validate(b) for b in history_bugs() + [long_thread_bug(4)]]


def test_component_owner_ranks_first_with_reasons(tmp_path, bugs):
    ranker = OwnerRanker.from_bugs(bugs, cache_db=tmp_path / "cache.sqlite")
    uart_bug = next(b for b in bugs if b.id == "PICO-10")  # open UART bug; bob fixed 2 of the 3 UART bugs
    ranking = ranker.rank(uart_bug)
    assert ranking[0].owner == "bob"
    assert ranking[0].reasons[0].startswith("resolved 2 of 3 resolved uart bugs")
    assert any(r.startswith("resolved similar bug PICO-") for r in ranking[0].reasons)
    assert ranking == sorted(ranking, key=lambda c: -c.score) and abs(sum(c.score for c in ranking) - 1) < 0.05


def test_a_bug_without_component_borrows_its_neighbours_components(tmp_path, bugs):
    ranker = OwnerRanker.from_bugs(bugs, cache_db=tmp_path / "cache.sqlite")
    query = BugRecord(id="NEW-1", title="DMA descriptor ring pointer wraps early and the channel stalls",
                      description="The DMA engine stalls after a descriptor fetch.", status="open")
    ranking = ranker.rank(query)
    assert ranking[0].owner == "alice"
    assert "dma (the component of similar bugs)" in ranking[0].reasons[0]


def test_the_bug_itself_and_its_thread_never_leak_into_its_ranking(tmp_path, bugs):
    ranker = OwnerRanker.from_bugs(bugs, cache_db=tmp_path / "cache.sqlite")
    target = next(b for b in bugs if b.id == "PICO-4")  # dan's only DMA fix
    assert "dan" not in triage_text(target) and not any("PICO-4 " in r for c in ranker.rank(target) for r in c.reasons)


def test_embeddings_are_cached_per_content_hash(tmp_path, bugs, monkeypatch):
    cache = tmp_path / "cache.sqlite"
    first = BugEmbeddings(cache).embed(bugs)

    def no_model(*a, **kw):
        raise AssertionError("the embedding model was loaded although every bug is cached")

    monkeypatch.setattr(assign, "_embedder", no_model)
    again = BugEmbeddings(cache).embed(bugs)
    assert (first == again).all()
    changed = bugs[0].model_copy(update={"title": "a different title"})
    with pytest.raises(AssertionError, match="embedding model was loaded"):
        BugEmbeddings(cache).embed([changed])


def test_config_rejects_bad_values_naming_the_field():
    with pytest.raises(ValueError, match="alpha"):
        AssignConfig(alpha=1.5)


def test_fused_ranking_is_no_worse_than_the_baseline_on_a_synthetic_tracker(tmp_path):
    bugs = [BugRecord.model_validate(b) for b in generate(n=300, seed=3)]
    vectors = BugEmbeddings(tmp_path / "cache.sqlite").embed(bugs)
    res = leave_one_out(bugs, vectors, {"fused": AssignConfig()})
    assert res["baseline"]["n"] > 200
    assert res["fused"]["top1"] >= res["baseline"]["top1"]
    assert res["fused"]["top3"] >= res["baseline"]["top3"]


def test_on_the_shipped_export_the_component_owner_comes_first_and_the_baseline_is_matched(tmp_path, sample_dir):
    from corpora.bugs import load_bug_export

    bugs = load_bug_export(sample_dir / "bugs" / "bugs.jsonl").records
    ranker = OwnerRanker.from_bugs(bugs, cache_db=tmp_path / "cache.sqlite")
    open_uart = next(b for b in bugs if b.id == "PICO-122")  # ana.souza fixed most UART bugs
    assert ranker.rank(open_uart)[0].owner == "ana.souza"
    res = leave_one_out(bugs, BugEmbeddings(tmp_path / "cache.sqlite").embed(bugs), {"fused": AssignConfig()})
    assert res["fused"]["top1"] >= res["baseline"]["top1"] and res["fused"]["top3"] >= res["baseline"]["top3"]
