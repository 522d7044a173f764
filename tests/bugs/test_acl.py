"""Bugs carry ACL groups (manifest above the export, the record's own field) and every read filters by them."""
from __future__ import annotations

import json
import sqlite3

import pytest

from assistant.bugs.store import BugStore, UnknownBugError
from assistant.bugs.summarize import summarize_bug
from tests.bugs.conftest import history_bugs

TEAM = "silicon-team"
# A restricted resolved DMA bug owned by "mallory": a public DMA bug's assignment must not quote it.
SECRET_BUG = {"id": "PICO-77", "title": "Orion mask ROM leaks the boot key through the DMA", "component": "dma",
              "assignee": "mallory", "status": "resolved", "created": "2024-02-20", "acl": [TEAM],
              "description": "DMA descriptor fetch returns stale data: Orion boot key visible over DMA."}


@pytest.fixture()
def acl_bugs(tmp_path):
    path = tmp_path / "export" / "bugs.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(b) + "\n" for b in history_bugs() + [SECRET_BUG]), encoding="utf-8")
    return path


def test_restricted_bug_is_not_found_without_the_group(tmp_path, acl_bugs):
    db = BugStore(tmp_path / "bugs.sqlite")
    db.import_file(acl_bugs)
    with pytest.raises(UnknownBugError) as e:
        db.get("PICO-77")
    assert "PICO-77" not in e.value.near and "PICO-77" not in str(e.value).split("(")[1]
    with pytest.raises(UnknownBugError):
        db.get("PICO-77", user_groups={"other-team"})
    assert db.get("PICO-77", user_groups={TEAM}).acl == [TEAM]
    assert "PICO-77" not in {b.id for b in db.all()} | {b.id for b in db.resolved()}
    assert "PICO-77" in {b.id for b in db.all({TEAM})} and db.get("PICO-1").acl == ["public"]


def test_the_manifest_above_the_export_restricts_its_bugs(tmp_path, acl_bugs):
    (acl_bugs.parent.parent / "chipassist-acl.yaml").write_text(
        "rules:\n  - glob: 'export/**'\n    groups: [silicon-team, dv-team]\n", encoding="utf-8")
    db = BugStore(tmp_path / "bugs.sqlite")
    db.import_file(acl_bugs)
    assert db.all() == []
    assert db.get("PICO-1", user_groups={"dv-team"}).acl == ["dv-team", TEAM]
    assert db.get("PICO-77", user_groups={TEAM}).acl == [TEAM]  # record and file: strictest
    with pytest.raises(UnknownBugError):
        db.get("PICO-77", user_groups={"dv-team"})


def test_an_acl_change_in_the_export_updates_the_stored_bug(tmp_path, acl_bugs):
    db = BugStore(tmp_path / "bugs.sqlite")
    db.import_file(acl_bugs)
    opened = acl_bugs.parent / "opened.jsonl"
    opened.write_text(json.dumps(dict(history_bugs()[0], acl="dv-team")) + "\n", encoding="utf-8")
    assert db.import_file(opened).updated == 1
    with pytest.raises(UnknownBugError):
        db.get("PICO-1")


def test_a_store_from_before_bug_acls_is_migrated(tmp_path, acl_bugs):
    path = tmp_path / "bugs.sqlite"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE bugs (id TEXT PRIMARY KEY, record TEXT NOT NULL, content_hash TEXT NOT NULL, "
                    "source TEXT NOT NULL, imported_at REAL NOT NULL)")
        old.execute("INSERT INTO bugs VALUES ('OLD-1', ?, 'x', 'old.jsonl', 0)",
                    (json.dumps({"id": "OLD-1", "title": "old bug"}),))
    db = BugStore(path)
    assert db.get("OLD-1").acl == ["public"]
    db.import_file(acl_bugs)
    assert db.get("PICO-77", user_groups=TEAM).acl == [TEAM]


def test_summaries_and_assignment_evidence_filter_by_the_callers_groups(bot, acl_bugs):
    BugStore(bot.settings.bugs_db).import_file(acl_bugs)
    with pytest.raises(KeyError):
        summarize_bug(bot, "PICO-77", kind="technical")
    with pytest.raises(KeyError):
        summarize_bug(bot, "PICO-77", kind="technical", bugs_file=acl_bugs)
    public = summarize_bug(bot, "PICO-1", kind="all")
    text = json.dumps(public.model_dump())
    assert "Orion" not in text and "PICO-77" not in text and "mallory" not in text
    assert public.acl == ["public"]
    team = summarize_bug(bot, "PICO-1", kind="all", user_groups={TEAM})
    team_text = json.dumps(team.model_dump())
    assert "PICO-77" in team_text or "mallory" in team_text  # the team's history is used for the team
    assert team.acl == [TEAM]
    assert summarize_bug(bot, "PICO-77", kind="technical", user_groups={TEAM}).acl == [TEAM]


def test_cli_import_acl_and_reader_groups(tmp_path, acl_bugs):
    from typer.testing import CliRunner

    from assistant.cli import app

    def run(*args):
        return CliRunner().invoke(app, [str(a) for a in args] + ["--data-dir", str(tmp_path / "data")])

    assert run("bugs", "import", acl_bugs, "--json").exit_code == 0
    listed = {b["id"]: b["acl"] for b in json.loads(run("bugs", "list", "--json").stdout)}
    assert "PICO-77" not in listed and listed["PICO-1"] == ["public"]
    team = {b["id"]: b["acl"] for b in json.loads(run("bugs", "list", "--json", "--groups", TEAM).stdout)}
    assert team["PICO-77"] == [TEAM]
    result = run("bugs", "summarize", "PICO-77", "--backend", "none", "--json")
    assert result.exit_code == 1 and "Orion" not in result.output
    result = run("bugs", "summarize", "PICO-77", "--backend", "none", "--json", "--groups", f"x,{TEAM}")
    assert result.exit_code == 0 and "Orion" in result.stdout
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "NEW-1", "title": "t", "status": "open", "component": "c"}) + "\n")
    assert run("bugs", "import", other, "--acl", "dv-team").exit_code == 0
    assert "NEW-1" not in run("bugs", "list", "--json").stdout
    assert "NEW-1" in run("bugs", "list", "--json", "--groups", "dv-team").stdout
