"""Pooled judging of the benchmark question set (bench/judge_pool.py): the judged key is exactly the written
key plus the relevant verdicts, passages already counted as hits or already judged are not asked again,
and the shipped files agree with each other."""
from __future__ import annotations

import json

import pytest

from bench import judge_pool
from bench.judge_pool import Judgment, judged_queries, load_judgments, passage_key, pool


def _queries(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [{"id": "nco", "query": "how do I compute the UART NCO value",
             "gold": [{"source": "uart/guide.md", "contains": "The NCO register controls the baud rate"}]},
            {"id": "bark", "query": "watchdog bark outputs", "gold": [{"source": "aon/theory.md", "contains": "bark"}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _top1(source: str, text: str) -> dict:
    return {"source": source, "title": "", "text": text}


def test_relevant_verdicts_become_golds_and_irrelevant_ones_do_not(tmp_path):
    formula = "NCO = 16 * 2^bits * f_baud / f_pclk"
    judgments = [Judgment(id="nco", source="uart/theory.md", key="k1", relevant=True, contains=formula),
                 Judgment(id="bark", source="aon/regs.md", key="k2", relevant=False)]
    queries = judged_queries(_queries(tmp_path), judgments)
    assert queries[0]["gold"][1] == {"source": "uart/theory.md", "contains": formula}
    assert len(queries[1]["gold"]) == 1
    with pytest.raises(SystemExit, match="unknown question id 'nope'"):
        judged_queries(_queries(tmp_path), [Judgment(id="nope", source="x", key="k", relevant=False)])


def test_pool_asks_only_for_passages_neither_hit_nor_judged(tmp_path):
    results = {"langchain": {"top1": {"dense": {
                   "nco": _top1("uart/guide.md", "... The NCO register controls the baud rate ..."),  # a hit
                   "bark": _top1("aon/regs.md", "WKUP_CAUSE register")}}},
               "ours": {"top1": {"hybrid": {"bark": _top1("aon/regs.md", "WKUP_CAUSE register"),  # same passage
                                            "nco": _top1("uart/theory.md", "the NCO formula")},
                                 "bm25": {"nco": _top1("uart/theory.md", "the NCO formula")}}}}
    queries = judged_queries(_queries(tmp_path), [])
    pooled = pool(results, queries, [])
    assert {q: [p["source"] for p in ps] for q, ps in pooled.items()} == {"bark": ["aon/regs.md"],
                                                                           "nco": ["uart/theory.md"]}
    judged = [Judgment(id="bark", source="aon/regs.md", key=passage_key("WKUP_CAUSE register"), relevant=False)]
    assert "bark" not in pool(results, judged_queries(_queries(tmp_path), judged), judged)


def test_a_bad_judgment_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"id": "nco", "source": "a.md", "key": "k", "relevant": false}\n'
                    '{"id": "nco", "source": "a.md", "key": "k", "relevant": true}\n')
    with pytest.raises(SystemExit, match=r"j\.jsonl:2: .*needs `contains`"):
        load_judgments(path)


def test_the_shipped_judged_questions_are_the_written_ones_plus_the_shipped_verdicts():
    judgments = load_judgments(judge_pool.JUDGMENTS)
    assert judgments, "bench/queries/judgments.jsonl is missing or empty"
    expected = judged_queries(judge_pool.QUERIES, judgments)
    shipped = [json.loads(line) for line in judge_pool.JUDGED.read_text().splitlines() if line.strip()]
    assert shipped == expected, "regenerate with `python bench/judge_pool.py --write`"
