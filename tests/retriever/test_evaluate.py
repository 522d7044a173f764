"""Retrieval evaluation: metric arithmetic, question-file errors, and the real sample index through the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpora.types import Chunk
from retriever.evaluate import EvalQuery, Gold, QueryFileError, evaluate, load_queries
from retriever.types import SearchHit

KEYS = ["hit@1", "hit@5", "hit@10", "mrr@10", "p50_ms", "p95_ms", "misses"]


class ScriptedSearch:
    """Returns a fixed ranking per query, so the expected metrics can be computed by hand."""

    def __init__(self, rankings: dict[str, list[tuple[str, str]]]) -> None:
        self.rankings = rankings
        self.calls: list[tuple[str, int, dict]] = []

    def search(self, query: str, k: int = 5, **kw) -> list[SearchHit]:
        self.calls.append((query, k, kw))
        pairs = self.rankings[query][:k]
        return [SearchHit(Chunk(id=f"{s}#{i}", source=s, title=s, text=t, doc_type="markdown", kind="docs"),
                          score=1.0 / i, rank=i) for i, (s, t) in enumerate(pairs, 1)]


def _q(qid: str, source: str, contains: str) -> EvalQuery:
    return EvalQuery(id=qid, query=qid, gold=[Gold(source=source, contains=contains)])


def test_metrics_are_computed_from_the_first_matching_rank():
    filler = [("other.md", "nothing here")] * 12
    search = ScriptedSearch({
        "first": [("a.md", "The BAUD divisor\n  is   set in CTRL")] + filler,  # whitespace/case normalised
        "third": filler[:2] + [("b.md", "reset clears ERR_STATUS")] + filler,
        "seventh": filler[:6] + [("c.md", "gamma")] + filler,
        "wrong-source": [("x.md", "gamma")] + filler,  # right text, wrong file: not a hit
        "absent": filler,
    })
    queries = [_q("first", "a.md", "baud divisor is set"), _q("third", "b.md", "ERR_STATUS"),
               _q("seventh", "c.md", "GAMMA"), _q("wrong-source", "c.md", "gamma"), _q("absent", "d.md", "z")]
    report = evaluate(search, queries, k=5, mode="dense", user_groups={"hw"})
    d = report.to_dict()
    assert list(d) == KEYS
    assert d["hit@1"] == pytest.approx(1 / 5)
    assert d["hit@5"] == pytest.approx(2 / 5)
    assert d["hit@10"] == pytest.approx(3 / 5)
    assert d["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 5)
    assert report.ranks == {"first": 1, "third": 3, "seventh": 7, "wrong-source": None, "absent": None}
    # misses: not in the top k=5, each with its query, gold and top k results
    assert [m["id"] for m in d["misses"]] == ["seventh", "wrong-source", "absent"]
    miss = d["misses"][1]
    assert miss["gold"] == [{"source": "c.md", "contains": "gamma"}]
    assert len(miss["top"]) == 5 and miss["top"][0]["source"] == "x.md"
    # search options pass through; depth is at least 10 for hit@10
    assert all(k == 10 and kw == {"mode": "dense", "user_groups": {"hw"}} for _, k, kw in search.calls)
    assert 0 <= d["p50_ms"] <= d["p95_ms"]
    json.dumps(d)


def _write(tmp_path: Path, *lines: str) -> Path:
    p = tmp_path / "q.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


GOOD = '{"id": "a", "query": "what?", "gold": [{"source": "x.md", "contains": "y"}]}'


@pytest.mark.parametrize("bad_line, message", [
    ('{"id": "b", "query": "q", "gold": [{"source": "x.md"}]', "not valid JSON"),
    ('{"id": "b", "query": "q", "gold": []}', "gold"),
    ('{"id": "b", "query": "q", "gold": [{"source": "x.md"}]}', "gold.0.contains"),
    ('{"id": "b", "gold": [{"source": "x.md", "contains": "y"}]}', "query"),
    ('{"id": "b", "query": "q", "gold": [{"source": "x.md", "contains": "y"}], "extra": 1}', "extra"),
    ('["a", "list"]', "JSON object"),
    (GOOD, "duplicate id 'a' \\(first on line 1\\)"),
])
def test_bad_query_files_name_file_and_line(tmp_path, bad_line, message):
    path = _write(tmp_path, GOOD, "", bad_line)
    with pytest.raises(QueryFileError, match=rf"q\.jsonl:3: .*{message}"):
        load_queries(path)


def test_missing_or_empty_query_file(tmp_path):
    with pytest.raises(QueryFileError, match="nope.jsonl: question file not found"):
        load_queries(tmp_path / "nope.jsonl")
    with pytest.raises(QueryFileError, match="no questions"):
        load_queries(_write(tmp_path, "", "  "))
    assert [q.id for q in load_queries(_write(tmp_path, GOOD))] == ["a"]


# --- the real sample index -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sample_queries(sample_dir) -> Path:
    return sample_dir / "eval" / "queries.jsonl"


def test_sample_index_scores_sanely(sample_index_master, sample_queries):
    from retriever.index import Index

    queries = load_queries(sample_queries)
    report = evaluate(Index.open(sample_index_master), queries)
    d = report.to_dict()
    assert list(d) == KEYS
    assert 0 <= d["hit@1"] <= d["hit@5"] <= d["hit@10"] <= 1
    assert d["hit@1"] <= d["mrr@10"] <= d["hit@10"]
    assert d["hit@5"] >= 0.6, d["misses"]  # a small, hand-written corpus: most answers are findable
    assert len(d["misses"]) == round((1 - d["hit@10"]) * len(queries))
    assert d["p50_ms"] > 0


def test_cli_json_output(sample_index_master, sample_queries):
    from assistant.cli import app

    result = CliRunner().invoke(app, ["eval", "retrieval", "--index", str(sample_index_master),
                                      "--queries", str(sample_queries), "--json", "--mode", "bm25"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert list(d) == KEYS and 0 <= d["hit@5"] <= 1


def test_cli_bad_query_file_exits_2(sample_index_master, tmp_path):
    from assistant.cli import app

    bad = _write(tmp_path, GOOD, "{oops")
    result = CliRunner().invoke(app, ["eval", "retrieval", "--index", str(sample_index_master),
                                      "--queries", str(bad)])
    assert result.exit_code == 2
    assert "q.jsonl:2" in result.output
