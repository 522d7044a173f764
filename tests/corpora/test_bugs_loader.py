"""The bug-export loader: JSON lines, CSV and GitHub issues JSON; bad records reported by line, the rest kept."""
from __future__ import annotations

import csv
import json

import pytest

from corpora.bugs import BugExportError, bug_to_text, load_bug_export, looks_like_bug_export


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = {"id": "B1", "title": "DMA hang", "description": "hangs", "status": "open", "component": "dma",
        "assignee": "alice", "comments": [{"author": "bob", "date": "2024-01-02", "text": "seen twice"}],
        "history": [{"date": "2024-01-03", "field": "status", "from": "new", "to": "open"}]}


def test_jsonl_reads_every_field_and_keeps_unknown_keys_in_extra(tmp_path):
    export = load_bug_export(_jsonl(tmp_path / "b.jsonl", [GOOD]))
    assert export.format == "jsonl" and export.problems == []
    bug = export.records[0]
    assert (bug.id, bug.status, bug.component, bug.assignee) == ("B1", "open", "dma", "alice")
    assert bug.comments[0].author == "bob" and bug.comments[0].text == "seen twice"
    assert bug.extra["history"][0]["to"] == "open"


def test_jsonl_malformed_lines_and_missing_fields_are_reported_by_line_and_the_rest_imported(tmp_path):
    path = _jsonl(tmp_path / "b.jsonl", [
        GOOD,
        '{"id": "B2", "title": "cut short"',           # line 2: malformed JSON
        {"title": "no id here", "status": "open"},     # line 3: missing required id -> skipped
        "",                                            # line 4: blank, ignored
        {"id": "B5", "title": "UART"},                 # line 5: missing status/component/description -> kept
        "[1, 2]",                                      # line 6: not an object
        {"id": 7, "title": "numeric id", "status": "closed", "component": "cru", "description": "d"},
    ])
    export = load_bug_export(path)
    assert [b.id for b in export.records] == ["B1", "B5", "7"]
    problems = "\n".join(export.problems)
    assert f"{path}:2: malformed JSON" in problems
    assert f"{path}:3: missing required field(s) id" in problems
    assert f"{path}:5: bug B5: missing field(s) status, component, description" in problems
    assert f"{path}:6: expected a JSON object" in problems
    assert len(export.problems) == 4


def test_duplicate_ids_keep_the_later_record_and_say_so(tmp_path):
    path = _jsonl(tmp_path / "b.jsonl", [GOOD, dict(GOOD, title="DMA hang (updated)")])
    export = load_bug_export(path)
    assert [b.title for b in export.records] == ["DMA hang (updated)"]
    assert "duplicate bug id 'B1' (first at line 1)" in export.problems[0]


def test_csv_with_json_and_separated_comments_and_multiline_fields(tmp_path):
    path = tmp_path / "bugs.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "description", "comments", "status", "component", "assignee", "labels", "team"])
        w.writerow(["U1", "UART parity", "line one\nline two",
                    "alice (2024-01-01): first look || bob: second || plain remark", "open", "uart", "carol",
                    "rtl, timing", "io"])
        w.writerow(["C2", "CRU glitch", "d", json.dumps([{"author": "x", "date": "2024-02-01", "text": "y"}]),
                    "closed", "cru", "dave", '["a", "b"]', "clk"])
        w.writerow(["S3", "short row"])
        w.writerow(["", "no id", "d", "", "open", "dma", "eve", "", ""])
    export = load_bug_export(path)
    assert export.format == "csv"
    u1, c2, s3 = export.records
    assert u1.description == "line one\nline two"
    assert [(c.author, c.date, c.text) for c in u1.comments] == [
        ("alice", "2024-01-01", "first look"), ("bob", "", "second"), ("", "", "plain remark")]
    assert u1.labels == ["rtl", "timing"] and u1.extra == {"team": "io"}
    assert c2.comments[0].author == "x" and c2.labels == ["a", "b"]
    assert s3.title == "short row"
    problems = "\n".join(export.problems)
    # the multi-line description makes the short row start on line 5 of the file, not row 3
    assert f"{path}:5: 2 columns where the header has 9" in problems
    assert f"{path}:6: missing required field(s) id" in problems


def test_github_issues_json_maps_fields_labels_and_embedded_comments(tmp_path):
    issues = [
        {"number": 12, "title": "Timer wraps early", "body": "Counter wraps at 0xFFFE.", "state": "closed",
         "state_reason": "completed", "labels": [{"name": "component:timer"}, {"name": "severity:major"}],
         "assignee": {"login": "eve"}, "user": {"login": "frank"}, "created_at": "2024-01-01T00:00:00Z",
         "updated_at": "2024-01-03T00:00:00Z", "closed_at": "2024-01-03T00:00:00Z", "comments": 2},
        {"number": 13, "title": "Top-level lint warning", "body": None, "state": "open", "labels": [],
         "assignee": None, "user": {"login": "gina"},
         "comments": [{"user": {"login": "hal"}, "created_at": "2024-02-01T10:00:00Z", "body": "On it."}]},
        {"number": 14, "body": "no title"},
        {"number": 15, "title": "Bump yosys", "state": "open", "pull_request": {"url": "https://x/pulls/15"}},
    ]
    path = tmp_path / "issues.json"
    path.write_text(json.dumps(issues, indent=1), encoding="utf-8")
    export = load_bug_export(path)
    assert export.format == "github"
    t12, t13 = export.records
    assert (t12.id, t12.status, t12.component, t12.assignee, t12.reporter, t12.severity, t12.resolution) == (
        "12", "closed", "timer", "eve", "frank", "major", "completed")
    assert t12.comments == [] and t12.extra["closed_at"] == "2024-01-03T00:00:00Z"
    assert (t13.comments[0].author, t13.comments[0].text) == ("hal", "On it.")
    problems = "\n".join(export.problems)
    lines = path.read_text().splitlines()
    line_13 = next(i for i, ln in enumerate(lines, 1) if '"number": 13' in ln) - 1  # the '{' opening issue 13
    assert f"{path}:{line_13}: bug 13: missing field(s) component, description" in problems
    assert "missing required field(s) title" in problems
    assert "#15 is a pull request, not an issue; skipped" in problems


def test_json_array_cut_short_keeps_the_bugs_before_the_error(tmp_path):
    path = tmp_path / "issues.json"
    path.write_text('[\n{"number": 1, "title": "a", "state": "open"},\n{"number": 2, "title": ', encoding="utf-8")
    export = load_bug_export(path)
    assert [b.id for b in export.records] == ["1"]
    assert any(p.startswith(f"{path}:3: malformed JSON") for p in export.problems)


def test_invalid_utf8_is_reported_with_its_line_and_the_file_still_read(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"id": "B2", "title": "caf\xe9", "status": "open", '
                     b'"component": "dma", "description": "d"}\n')
    export = load_bug_export(path)
    assert [b.id for b in export.records] == ["B1", "B2"]
    assert export.problems[0].startswith(f"{path}:2: not valid UTF-8")


@pytest.mark.parametrize("content, message", [(None, "not found"), ("", "empty"), ("just some prose\n", "not a bug export")])
def test_unusable_files_raise_a_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bugs.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(BugExportError, match=message) as e:
        load_bug_export(path)
    assert str(path) in str(e.value)


def test_looks_like_bug_export_tells_bug_exports_from_other_data(tmp_path):
    assert looks_like_bug_export(_jsonl(tmp_path / "b.jsonl", [GOOD]))
    assert not looks_like_bug_export(_jsonl(tmp_path / "cfg.jsonl", [{"name": "x", "value": 1}]))
    (tmp_path / "gh.json").write_text(json.dumps([{"number": 1, "title": "t", "state": "open", "body": ""}]))
    assert looks_like_bug_export(tmp_path / "gh.json")
    (tmp_path / "pkg.json").write_text(json.dumps({"name": "x", "version": "1"}))
    assert not looks_like_bug_export(tmp_path / "pkg.json")
    (tmp_path / "b.csv").write_text("id,title,status,component\n1,t,open,dma\n")
    assert looks_like_bug_export(tmp_path / "b.csv")
    (tmp_path / "pins.csv").write_text("pin,x,y\nA1,0,0\n")
    assert not looks_like_bug_export(tmp_path / "pins.csv")
    assert not looks_like_bug_export(tmp_path / "missing.jsonl")


def test_bug_to_text_holds_title_fields_description_and_comments_in_order(tmp_path):
    bug = load_bug_export(_jsonl(tmp_path / "b.jsonl", [GOOD])).records[0]
    text = bug_to_text(bug)
    assert text.startswith("Bug B1: DMA hang\n")
    assert "Status: open | Component: dma | Assignee: alice" in text
    assert text.index("Description:\nhangs") < text.index("[2024-01-02] bob: seen twice")


def test_the_shipped_sample_export_loads_cleanly(sample_dir):
    path = sample_dir / "bugs" / "bugs.jsonl"
    export = load_bug_export(path)
    assert export.problems == [] and len(export.records) >= 15
    assert looks_like_bug_export(path)
