"""The hand-written AutoEval multiple-choice sets in bench/data: they load through the same reader the adapters'
AutoEval uses, meet the per-category minimums, and are well formed (unique ids, four distinct choices, one answer
in range, answer letters balanced so a model that always picks one letter scores near chance)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from adapters.autoeval import load_mc

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
DOMAIN = DATA / "autoeval_domain.jsonl"
GENERAL = DATA / "autoeval_general.jsonl"
MINIMUMS = {DOMAIN: {"openroad_commands": 50, "opentitan_registers": 50, "opentitan_behaviour": 40, "scripting": 20},
            GENERAL: {"general": 400}}
KEYS = {"id", "category", "question", "choices", "answer", "source"}


def _raw(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("path", [DOMAIN, GENERAL], ids=["domain", "general"])
def test_set_loads_and_meets_category_minimums(path):
    rows = load_mc(path)  # the AutoEval reader itself: a format it rejects fails here
    counts = Counter(r["category"] for r in rows)
    for category, minimum in MINIMUMS[path].items():
        assert counts[category] >= minimum, f"{path.name}: {category} has {counts[category]} < {minimum}"
    assert set(counts) == set(MINIMUMS[path]), f"{path.name}: unexpected categories {set(counts) - set(MINIMUMS[path])}"
    assert sum(counts.values()) >= (160 if path == DOMAIN else 400)


@pytest.mark.parametrize("path", [DOMAIN, GENERAL], ids=["domain", "general"])
def test_rows_are_well_formed(path):
    rows = _raw(path)
    for n, r in enumerate(rows, 1):
        where = f"{path.name}:{n} ({r.get('id')})"
        assert set(r) == KEYS, f"{where}: keys {sorted(r)}"
        assert isinstance(r["answer"], int) and 0 <= r["answer"] < 4, f"{where}: answer {r['answer']!r}"
        assert len(r["choices"]) == 4 and len({c.strip().lower() for c in r["choices"]}) == 4, f"{where}: choices"
        assert all(isinstance(c, str) and c.strip() for c in r["choices"]), f"{where}: empty choice"
        assert r["question"].strip() and r["source"].strip(), f"{where}: empty question or source"
    ids = Counter(r["id"] for r in rows)
    assert not [i for i, k in ids.items() if k > 1], f"{path.name}: duplicate ids"


def test_ids_unique_across_sets_and_no_question_repeated():
    rows = _raw(DOMAIN) + _raw(GENERAL)
    assert len({r["id"] for r in rows}) == len(rows)
    questions = Counter(r["question"].strip().lower() for r in rows)
    assert not [q for q, k in questions.items() if k > 1]


@pytest.mark.parametrize("path", [DOMAIN, GENERAL], ids=["domain", "general"])
def test_answer_positions_balanced(path):
    rows = _raw(path)
    share = {k: v / len(rows) for k, v in Counter(r["answer"] for r in rows).items()}
    for letter in range(4):
        assert 0.15 <= share.get(letter, 0) <= 0.35, f"{path.name}: answer {'ABCD'[letter]} is {share.get(letter, 0):.0%}"


def test_domain_sources_name_real_corpus_files(shared_corpora):
    """Every domain question cites a file of ../shared/corpora (skipped where the corpus is absent)."""
    missing = [r["id"] for r in _raw(DOMAIN) if not (shared_corpora / r["source"].split("#")[0]).is_file()]
    assert not missing, f"sources not found under {shared_corpora}: {missing}"
