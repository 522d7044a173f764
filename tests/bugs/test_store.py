"""The SQLite bug store: counts, upserts, atomic imports, and unknown ids that name the nearest ones."""
from __future__ import annotations

import json

import pytest

from assistant.bugs import store as store_mod
from assistant.bugs.store import BugStore, UnknownBugError
from corpora.bugs import BugExportError


def test_import_counts_problems_and_upserts_by_id(tmp_path, bugs_file):
    db = BugStore(tmp_path / "bugs.sqlite")
    first = db.import_file(bugs_file)
    assert (first.records, first.inserted, first.updated, first.unchanged, first.total_in_store) == (11, 11, 0, 0, 11)
    again = db.import_file(bugs_file)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 11)
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({"id": "PICO-10", "title": "UART baud divisor of 0 locks the transmitter",
                                 "status": "resolved", "component": "uart", "assignee": "bob",
                                 "description": "fixed by clamping"}) + "\n{broken\n", encoding="utf-8")
    report = db.import_file(newer)
    assert (report.inserted, report.updated, report.total_in_store) == (0, 1, 11)
    assert report.problems == [f"{newer}:2: malformed JSON (Expecting property name enclosed in double quotes "
                               "at column 2); line skipped"]
    assert db.get("PICO-10").status == "resolved"
    assert len(db.resolved()) == 11 and len(db.all()) == 11  # PICO-10 is now resolved too


def test_a_failing_import_leaves_the_store_as_it_was(tmp_path, bugs_file, monkeypatch):
    db = BugStore(tmp_path / "bugs.sqlite")
    db.import_file(bugs_file)
    before = [b.model_dump() for b in db.all()]
    changed = tmp_path / "changed.jsonl"
    rows = [json.loads(line) for line in bugs_file.read_text().splitlines()]
    changed.write_text("".join(json.dumps(dict(r, status="reopened")) + "\n" for r in rows), encoding="utf-8")
    real_hash, calls = store_mod.content_hash, []

    def failing_hash(text):  # the disk fills up half-way through the import
        calls.append(text)
        if len(calls) == 6:
            raise OSError("disk full")
        return real_hash(text)

    monkeypatch.setattr(store_mod, "content_hash", failing_hash)
    with pytest.raises(OSError):
        db.import_file(changed)
    assert [b.model_dump() for b in db.all()] == before


def test_unknown_id_is_a_key_error_naming_the_nearest_ids(tmp_path, bugs_file):
    db = BugStore(tmp_path / "bugs.sqlite")
    with pytest.raises(UnknownBugError, match="no bugs in .*import an export first"):
        db.get("PICO-1")
    db.import_file(bugs_file)
    assert db.get("pico-42").id == "PICO-42"  # ids match case-insensitively
    with pytest.raises(KeyError) as e:
        db.get("PICO-43")
    assert "unknown bug id 'PICO-43'" in str(e.value) and "PICO-42" in e.value.near


def test_a_missing_export_changes_nothing(tmp_path):
    db = BugStore(tmp_path / "bugs.sqlite")
    with pytest.raises(BugExportError, match="not found"):
        db.import_file(tmp_path / "nope.jsonl")
    assert len(db) == 0
