"""Pooled relevance judging for the retrieval question set (the TREC way of completing an answer key).

The golds in ``bench/queries/shared.jsonl`` were written with the questions, before any system ran: one
passage per question. Other passages often answer just as well (the UART NCO formula is in both the
programmer's guide and the theory of operation), and a strict key counts those as misses for every system.
So the first result of every system in a benchmark run (LangChain, ChipAssist hybrid / dense / BM25) is
pooled, and a person judges each pooled passage that is not already a hit, without seeing which system
returned it. Passages judged to answer the question become extra golds in
``bench/queries/shared-judged.jsonl``; bench/retrieval.py scores every system against both files, so the
judged key favours no system that was not in the pool.

    python bench/retrieval.py --parts langchain,ours      # keeps each system's first results in the JSON
    python bench/judge_pool.py [--index DIR]              # writes bench/out/judge_pool.md: what to judge
    # record each verdict in bench/queries/judgments.jsonl, one JSON object per line:
    #   {"id": QUESTION, "source": PATH, "key": KEY, "relevant": true, "contains": "answering text", "why": "..."}
    python bench/judge_pool.py --write                    # regenerates bench/queries/shared-judged.jsonl

``--index DIR`` (an index of the same corpus) adds the first results of its hybrid search under every fusion
setting bench/retrieval.py compares, so a fusion choice is scored on judged passages too.
``key`` identifies the judged passage (a hash of its text, printed in the sheet); ``contains`` is the
sentence that answers, so the same answer counts under any chunking (LangChain's 1000/200 splits included).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, model_validator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpora.config_io import format_validation_error  # noqa: E402
from retriever.evaluate import Gold, is_hit, load_queries, normalize  # noqa: E402
from retriever.types import SearchHit  # noqa: E402

QUERIES = ROOT / "bench" / "queries" / "shared.jsonl"
JUDGED = ROOT / "bench" / "queries" / "shared-judged.jsonl"
JUDGMENTS = ROOT / "bench" / "queries" / "judgments.jsonl"
RESULTS = ROOT / "bench" / "out" / "retrieval.json"


class Judgment(BaseModel, extra="forbid"):
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    key: str = Field(min_length=1)
    relevant: bool
    contains: str | None = None
    why: str = ""

    @model_validator(mode="after")
    def _relevant_needs_text(self) -> "Judgment":
        if self.relevant and not self.contains:
            raise ValueError("a relevant judgment needs `contains` (the answering text)")
        return self


def passage_key(text: str) -> str:
    return hashlib.sha1(normalize(text).encode()).hexdigest()[:12]


def load_judgments(path: Path) -> list[Judgment]:
    """Every verdict in ``path`` (none when it does not exist); a bad line raises naming file and line."""
    if not path.is_file():
        return []
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(Judgment.model_validate_json(line))
        except ValidationError as e:
            sys.exit(f"{path}:{lineno}: {format_validation_error(e)}")
    return out


def judged_queries(queries_path: Path, judgments: list[Judgment]) -> list[dict]:
    """The question file with a gold added for every relevant judgment (ids must exist in the file)."""
    queries = {q.id: q.model_dump() for q in load_queries(queries_path)}
    for j in judgments:
        if j.id not in queries:
            sys.exit(f"judgment for unknown question id {j.id!r} (not in {queries_path})")
        gold = {"source": j.source, "contains": j.contains}
        if j.relevant and gold not in queries[j.id]["gold"]:
            queries[j.id]["gold"].append(gold)
    return list(queries.values())


def index_top1(index_dir: Path, queries) -> dict[str, dict[str, dict]]:
    """{fusion setting: {question id: first result}} of an index's hybrid search."""
    from bench.retrieval import FUSION_SETTINGS, first_results
    from retriever.index import Index

    index = Index.open(index_dir)
    base, out = index.config, {}
    for label, update in FUSION_SETTINGS.items():
        index.config = base.model_copy(update=update)
        out[label] = first_results(index, queries)
    return out


def pool(results: dict, queries: list[dict], judgments: list[Judgment]) -> dict[str, list[dict]]:
    """Per question, the distinct first results of every system that are neither hits nor judged yet."""
    from corpora.types import Chunk

    seen = {(j.id, j.source, j.key) for j in judgments}
    golds = {q["id"]: [Gold(**g) for g in q["gold"]] for q in queries}
    out: dict[str, list[dict]] = {}
    for system in results.values():
        for top1 in (system.get("top1", {}) if isinstance(system, dict) else {}).values():
            for qid, hit in top1.items():
                chunk = Chunk(id="pooled", source=hit["source"], title=hit["title"], text=hit["text"],
                              doc_type="text", kind="text")
                key = passage_key(hit["text"])
                if qid not in golds or is_hit(SearchHit(chunk=chunk, score=0.0, rank=1), golds[qid]):
                    continue
                if (qid, hit["source"], key) in seen:
                    continue
                seen.add((qid, hit["source"], key))
                out.setdefault(qid, []).append({**hit, "key": key})
    return out


def sheet(queries: list[dict], pooled: dict[str, list[dict]]) -> str:
    lines = ["# Passages to judge", "", "Systems are hidden on purpose. For each passage, add a line to "
             "bench/queries/judgments.jsonl (relevant: does it answer the question?).", ""]
    for q in queries:
        for p in pooled.get(q["id"], []):
            lines += [f"## {q['id']}: {q['query']}", "",
                      f"gold: {'; '.join(g['source'] + ' :: ' + g['contains'] for g in q['gold'])}", "",
                      f"candidate: `{p['source']}` key `{p['key']}` ({p['title'] or 'no title'})", "", "```",
                      p["text"].strip(), "```", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--queries", type=Path, default=QUERIES)
    ap.add_argument("--judgments", type=Path, default=JUDGMENTS)
    ap.add_argument("--index", type=Path, help="also pool this index's first results under each fusion setting")
    ap.add_argument("--write", action="store_true", help=f"regenerate {JUDGED.relative_to(ROOT)}")
    args = ap.parse_args()
    judgments = load_judgments(args.judgments)
    queries = judged_queries(args.queries, judgments)
    if args.write:
        JUDGED.write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
        added = sum(j.relevant for j in judgments)
        print(f"wrote {JUDGED}: {len(queries)} questions, {added} golds added from {len(judgments)} judgments")
        return
    if not args.results.is_file():
        sys.exit(f"{args.results}: run bench/retrieval.py first")
    results = json.loads(args.results.read_text())
    if args.index:
        results["index"] = {"top1": index_top1(args.index, load_queries(args.queries))}
    pooled = pool(results, queries, judgments)
    out = ROOT / "bench" / "out" / "judge_pool.md"
    out.write_text(sheet(queries, pooled), encoding="utf-8")
    print(f"wrote {out}: {sum(map(len, pooled.values()))} passages over {len(pooled)} questions to judge")


if __name__ == "__main__":
    main()
