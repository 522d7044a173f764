"""`chipassist bugs import|list|summarize`: JSON output, readable output, and exit codes 0 / 1 / 2."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from assistant.cli import app
from tests.bugs.conftest import LOG

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_import_then_list_and_summarize_as_json(tmp_path, bugs_file, monkeypatch):
    monkeypatch.delenv("CHIPASSIST_LLM_BACKEND", raising=False)
    data = tmp_path / "data"
    bad = tmp_path / "more.jsonl"
    bad.write_text('{"id": "X1", "title": "ok", "status": "open", "component": "top", "description": "d"}\n'
                   '{"id": "X2", "title": \n', encoding="utf-8")
    result = _run("bugs", "import", bugs_file, "--json", "--data-dir", data)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["total_in_store"], report["problems"]) == (11, 11, [])
    result = _run("bugs", "import", bad, "--data-dir", data)
    assert result.exit_code == 0 and "1 new" in result.output
    assert f"{bad}:2: malformed JSON" in result.output.replace("\n", "")

    listed = json.loads(_run("bugs", "list", "--json", "--data-dir", data, "--status", "open").stdout)
    assert {b["id"] for b in listed} == {"PICO-10", "X1"}

    result = _run("bugs", "summarize", "PICO-42", "--kind", "all", "--json", "--backend", "none", "--data-dir", data)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["retrieval_only"] and LOG in summary["sections"]["digest"]
    assert summary["assignment"][0]["owner"] == "alice" and summary["assignment"][0]["reasons"]


def test_readable_output_and_the_file_option(tmp_path, bugs_file):
    result = _run("bugs", "summarize", "PICO-10", "--kind", "assignment", "--file", bugs_file,
                  "--backend", "none", "--data-dir", tmp_path / "data")
    assert result.exit_code == 0, result.output
    assert "1. bob" in result.output and "resolved 2 of 3 resolved uart bugs" in result.output


def test_exit_codes_for_unknown_ids_and_bad_input(tmp_path, bugs_file):
    data = tmp_path / "data"
    result = _run("bugs", "summarize", "PICO-99", "--file", bugs_file, "--backend", "none", "--data-dir", data)
    assert result.exit_code == 1 and "unknown bug id 'PICO-99'" in result.output
    result = _run("bugs", "import", tmp_path / "missing.jsonl", "--data-dir", data)
    assert result.exit_code == 2 and "not found" in result.output
    result = _run("bugs", "summarize", "PICO-42", "--kind", "poem", "--file", bugs_file, "--data-dir", data)
    assert result.exit_code == 2 and "kind" in result.output
