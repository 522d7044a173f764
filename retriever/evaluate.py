"""Retrieval evaluation: hit@1/5/10, MRR@10 and query latency of an index over a question file.

The question file holds one JSON object per line::

    {"id": "uart-baud", "query": "how is the baud rate set?",
     "gold": [{"source": "docs/uart.md", "contains": "NCO"}]}

A query is a hit at rank r when the r-th result comes from one of its gold sources and its text contains
that gold's ``contains`` text (case-insensitive, runs of whitespace treated as one space, so re-wrapped
lines still match). Run it with ``chipassist eval retrieval --index DIR --queries FILE.jsonl`` or::

    from retriever.evaluate import evaluate, load_queries
    report = evaluate(Index.open(dir), load_queries("bench/queries/shared.jsonl"))
    print(report.to_dict())

``evaluate`` only needs an object with ``search(query, k=..., **kw) -> list[SearchHit]``, so the
benchmarks score a LangChain baseline with exactly the same rule.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from corpora.config_io import format_validation_error
from retriever.types import SearchHit

DEPTH = 10  # hit@10 and MRR@10 need at least the top 10


class QueryFileError(ValueError):
    """A question file that cannot be used; the message names the file and line."""


class Gold(BaseModel, extra="forbid"):
    """An answer to a question: ``source`` holds a chunk whose text contains ``contains``."""

    source: str = Field(min_length=1)
    contains: str = Field(min_length=1)


class EvalQuery(BaseModel, extra="forbid"):
    """One evaluation question with its gold answers (a line of a question file)."""

    id: str = Field(min_length=1)
    query: str = Field(min_length=1)
    gold: list[Gold] = Field(min_length=1)


class Searchable(Protocol):
    """Anything with the index's ``search``: the index itself, a baseline or a test stand-in."""

    def search(self, query: str, k: int = ..., **kw: Any) -> list[SearchHit]:
        """The ``k`` best hits for ``query``, best first."""
        ...


class EvalReport(BaseModel):
    """Aggregate metrics plus, per query, the 1-based rank of the first hit (None: not in the top results)."""

    hit_at_1: float
    hit_at_5: float
    hit_at_10: float
    mrr_at_10: float
    p50_ms: float
    p95_ms: float
    misses: list[dict[str, Any]]
    ranks: dict[str, int | None] = Field(default_factory=dict)
    latencies_ms: list[float] = Field(default_factory=list)

    def hit_at(self, n: int) -> float:
        """Fraction of queries with a hit in the top n (n up to the search depth)."""
        if not self.ranks:
            return 0.0
        return sum(1 for r in self.ranks.values() if r is not None and r <= n) / len(self.ranks)

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape: exactly hit@1, hit@5, hit@10, mrr@10, p50_ms, p95_ms, misses."""
        return {"hit@1": self.hit_at_1, "hit@5": self.hit_at_5, "hit@10": self.hit_at_10,
                "mrr@10": self.mrr_at_10, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms,
                "misses": self.misses}


def load_queries(path: str | Path) -> list[EvalQuery]:
    """Read a JSONL question file; raise QueryFileError naming the file and line on any bad entry."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QueryFileError(f"{path}: question file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise QueryFileError(f"{path}: cannot read question file: {e}") from None
    queries: list[EvalQuery] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as e:
            raise QueryFileError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(raw, dict):
            raise QueryFileError(f"{where}: expected a JSON object with id, query and gold")
        try:
            q = EvalQuery.model_validate(raw)
        except ValidationError as e:
            raise QueryFileError(f"{where}: {format_validation_error(e)}") from None
        if q.id in seen:
            raise QueryFileError(f"{where}: duplicate id {q.id!r} (first on line {seen[q.id]})")
        seen[q.id] = lineno
        queries.append(q)
    if not queries:
        raise QueryFileError(f"{path}: no questions in file")
    return queries


def normalize(text: str) -> str:
    """Lower case with whitespace runs collapsed: how ``contains`` and chunk text are compared."""
    return re.sub(r"\s+", " ", text).strip().lower()


def is_hit(hit: SearchHit, gold: Iterable[Gold]) -> bool:
    """True when the hit's chunk comes from a gold source and contains that gold's text."""
    chunk = hit.chunk
    text = None
    for g in gold:
        if chunk.source == g.source:
            text = text if text is not None else normalize(chunk.text)
            if normalize(g.contains) in text:
                return True
    return False


def first_hit_rank(hits: Sequence[SearchHit], gold: Iterable[Gold]) -> int | None:
    """The 1-based rank of the first hit that matches any of ``gold``, or None when none does."""
    gold = list(gold)
    for position, hit in enumerate(hits, 1):
        if is_hit(hit, gold):
            return position
    return None


def evaluate(index: Searchable, queries: Sequence[EvalQuery], k: int = DEPTH, *, progress: bool = False,
             **search_kw: Any) -> EvalReport:
    """Search every query (top max(k, 10)), time it, and score hit@1/5/10, MRR@10 and latency.

    Args:
        index: anything with ``search(query, k=..., **search_kw)`` returning ranked SearchHits.
        queries: from ``load_queries``.
        k: a query whose gold is not in its top k is listed in ``misses`` (with its top k results).
        progress: show a progress bar.
        search_kw: passed to ``search`` (mode, user_groups, rerank, ...).
    """
    if not queries:
        raise ValueError("evaluate() needs at least one query")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    depth = max(k, DEPTH)
    index.search(queries[0].query, k=depth, **search_kw)  # warm-up: lazy model loads are not query latency
    ranks: dict[str, int | None] = {}
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    for q in _progress(queries, progress):
        t0 = time.perf_counter()
        hits = index.search(q.query, k=depth, **search_kw)
        latencies.append((time.perf_counter() - t0) * 1000.0)
        rank = first_hit_rank(hits, q.gold)
        ranks[q.id] = rank
        if rank is None or rank > k:
            misses.append({"id": q.id, "query": q.query, "gold": [g.model_dump() for g in q.gold],
                           "top": [_describe(h) for h in hits[:k]]})
    m = rank_metrics(ranks.values())
    lat = np.asarray(latencies)
    return EvalReport(
        hit_at_1=m["hit@1"], hit_at_5=m["hit@5"], hit_at_10=m["hit@10"], mrr_at_10=m["mrr@10"],
        p50_ms=round(float(np.percentile(lat, 50)), 3),
        p95_ms=round(float(np.percentile(lat, 95)), 3),
        misses=misses, ranks=ranks, latencies_ms=[round(x, 3) for x in latencies],
    )


def rank_metrics(ranks: Iterable[int | None]) -> dict[str, float]:
    """hit@1, hit@5, hit@10 and MRR@10 from each query's 1-based rank of its first hit (None: not found)."""
    ranks = list(ranks)
    if not ranks:
        raise ValueError("rank_metrics() needs at least one rank")
    found = [r for r in ranks if r is not None]
    n = len(ranks)
    return {"hit@1": sum(r <= 1 for r in found) / n, "hit@5": sum(r <= 5 for r in found) / n,
            "hit@10": sum(r <= 10 for r in found) / n, "mrr@10": sum(1.0 / r for r in found if r <= 10) / n}


def _describe(hit: SearchHit) -> dict[str, Any]:
    return {"rank": hit.rank, "source": hit.chunk.source, "title": hit.chunk.title,
            "score": round(float(hit.score), 4)}


def _progress(items: Sequence[EvalQuery], enabled: bool) -> Iterable[EvalQuery]:
    if not enabled:
        return items
    from rich.progress import track

    return track(items, description="evaluating", transient=True)
