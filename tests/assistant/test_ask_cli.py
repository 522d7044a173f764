"""`chipassist ask`: readable output, --json, each backend, the fallback when the LLM is down, exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from assistant.cli import app
from tests.support.openai_server import free_port

QUESTION = "How is the UART baud rate set?"
runner = CliRunner()


def _ask(*args: str):
    return runner.invoke(app, ["ask", *args], catch_exceptions=False)


def test_ask_json_retrieval_only(qa_index):
    result = _ask(QUESTION, "--index", str(qa_index), "--json", "-k", "3")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["retrieval_only"] and answer["backend"] == "none"
    assert [s["n"] for s in answer["sources"]] == list(range(1, len(answer["sources"]) + 1))
    assert 1 <= len(answer["sources"]) <= 3
    assert {"path", "title", "snippet", "score", "chunk_id", "start_line", "end_line"} <= set(answer["sources"][0])


def test_ask_readable_output_lists_sources(qa_index):
    result = _ask(QUESTION, "--index", str(qa_index))
    assert result.exit_code == 0, result.output
    first_path = json.loads(_ask(QUESTION, "--index", str(qa_index), "--json").stdout)["sources"][0]["path"]
    assert "Retrieval-only answer" in result.stdout and "Sources" in result.stdout
    assert f"[1] {first_path}" in result.stdout and "score" in result.stdout


def _short_answers(tmp_path) -> str:
    """A settings file keeping the tiny model's gibberish short (tests check structure, not wording)."""
    path = tmp_path / "chipassist.yaml"
    path.write_text("llm:\n  max_new_tokens: 24\n  temperature: 0.0\n", encoding="utf-8")
    return str(path)


def test_ask_openai_backend_streams(qa_index, openai_server, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")  # the key comes from the environment
    result = _ask(QUESTION, "--index", str(qa_index), "--backend", "openai", "--base-url", openai_server.base_url,
                  "--config", _short_answers(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Retrieval-only" not in result.stdout and "openai tiny-llama" in result.stdout
    assert "Sources" in result.stdout


def test_ask_local_backend_json(qa_index, tiny_model, tmp_path):
    result = _ask(QUESTION, "--index", str(qa_index), "--backend", "local", "--model-path", str(tiny_model), "--json",
                  "--config", _short_answers(tmp_path))
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["backend"] == "local" and not answer["retrieval_only"] and answer["sources"]


def test_ask_falls_back_when_the_server_is_down(qa_index):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    result = _ask(QUESTION, "--index", str(qa_index), "--backend", "openai", "--base-url", dead, "--json")
    assert result.exit_code == 0
    answer = json.loads(result.stdout)
    assert answer["retrieval_only"] and any("unreachable" in w for w in answer["warnings"])
    assert "warning:" in result.stderr and "unreachable" in result.stderr


def test_ask_exit_codes(qa_index, tmp_path):
    assert _ask("  ", "--index", str(qa_index)).exit_code == 2  # empty question
    assert _ask(QUESTION, "--index", str(qa_index), "--backend", "bogus").exit_code == 2  # bad config value
    missing = _ask(QUESTION, "--index", str(tmp_path / "nope"))
    assert missing.exit_code == 1 and "no index" in missing.stderr
    bad_model = _ask(QUESTION, "--index", str(qa_index), "--backend", "local", "--model-path", str(tmp_path))
    assert bad_model.exit_code == 2 and "llm.model_path" in bad_model.stderr


def test_console_script_json(qa_index):
    """The installed `chipassist` entry point, in a real process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    exe = os.path.join(os.path.dirname(sys.executable), "chipassist")
    proc = subprocess.run([exe, "ask", QUESTION, "--index", str(qa_index), "--json"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sources"]
