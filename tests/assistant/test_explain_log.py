"""The `explain_log` job: a real yosys log (tests/assistant/logs, made by running yosys on a broken design; and
one made now when yosys is installed) and an OpenROAD-style log are parsed, grouped, searched in the sample
index with the caller's groups, and answered retrieval-only or by an LLM citing [n]; secrets never get past
the scrubber; the CLI command comes from the registry."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.config import load_settings
from assistant.jobs import JobInputError, get
from assistant.logs.parse import parse_log
from assistant.service import Assistant
from tests.conftest import SAMPLE

LOGS = Path(__file__).parent / "logs"
YOSYS_LOG = (LOGS / "yosys_missing_module.log").read_text(encoding="utf-8")
OPENROAD_LOG = (LOGS / "openroad_route.log").read_text(encoding="utf-8")
MISSING = "Module `\\uart_rx' referenced in module `\\uart' in cell `\\u_rx' is not part of the design."


@pytest.fixture(scope="module")
def bot(qa_index, tmp_path_factory):
    settings = load_settings(None, index_dir=qa_index, data_dir=tmp_path_factory.mktemp("logs"), llm={"backend": "none"},
                             slack={"bot_token": "Zq8-hunter2-Passphrase-77"})
    return Assistant(settings)


def test_yosys_log_is_grouped_with_counts_and_first_lines():
    parsed = parse_log(YOSYS_LOG)
    assert parsed.tool == "yosys" and parsed.lines == 100 and (parsed.errors, parsed.warnings) == (1, 4)
    error, implicit, resize = parsed.issues  # errors first, then warnings by first line
    assert (error.severity, error.message, error.first_line) == ("error", MISSING, 100)
    assert (implicit.count, implicit.first_line, implicit.lines, implicit.location) == (3, 30, [30, 31, 32], "warn.v:3")
    assert resize.message.startswith("Resizing cell port wrap.u_w.a") and resize.count == 1


def test_a_fresh_yosys_log_parses_the_same(tmp_path):
    if shutil.which("yosys") is None:
        pytest.skip("yosys is not installed")
    shutil.copy(LOGS / "warn.v", tmp_path)
    shutil.copy(SAMPLE / "rtl" / "uart.v", tmp_path)
    script = ("read_verilog warn.v; read_verilog uart.v; design -save all; hierarchy -top wrap; proc; "
              "design -load all; hierarchy -check -top uart")
    run = subprocess.run(["yosys", "-q", "-l", "run.log", "-p", script], cwd=tmp_path, capture_output=True, timeout=60)
    assert run.returncode != 0
    parsed = parse_log((tmp_path / "run.log").read_text())
    assert [(i.severity, i.count) for i in parsed.issues] == [("error", 1), ("warning", 3), ("warning", 1)]
    assert parsed.issues[0].message == MISSING


def test_openroad_log_groups_by_message_id():
    parsed = parse_log(OPENROAD_LOG)
    assert parsed.tool == "openroad"
    by_id = {i.id: i for i in parsed.issues}
    assert set(by_id) == {"GRT-0119", "", "STA-0337", "STA-0366", "GPL-0302", "GRT-0043"}  # INFO is not an issue
    assert parsed.issues[0].id == "GRT-0119" and parsed.issues[0].severity == "error"
    assert (by_id["STA-0337"].count, by_id["STA-0337"].first_line, by_id["STA-0337"].lines) == (2, 11, [11, 12])
    assert by_id["STA-0337"].examples == ["port 'clk_ext' not found.", "port 'rst_ext_n' not found."]
    assert by_id[""].message.startswith("global_route.tcl, 21 GRT-0119")  # OpenROAD's generic `Error:` line


def test_retrieval_only_digest_cites_the_troubleshooting_doc(bot):
    result = bot.run("explain_log", {"log": YOSYS_LOG})
    assert result.retrieval_only and result.backend == "none" and result.tool == "yosys"
    missing = result.issues[0]
    assert missing.sources, result.text
    assert "docs/flow_guide.rst" in {result.sources[n - 1].path for n in missing.sources}
    assert "Retrieval-only digest" in result.text and "see [" in result.text and "×3 (first at line 30" in result.text
    shown = get("explain_log").render_markdown(result)
    assert "**Sources**" in shown and "\n# " not in shown  # quoted passages never render as headings


def test_the_callers_groups_apply_to_the_documents(bot, restricted, tmp_path):
    index, path, group, query = restricted
    if Path(index) != Path(bot.settings.index_dir):  # the mini corpus's restricted doc: a bot on that index
        bot = Assistant(load_settings(None, index_dir=index, data_dir=tmp_path, llm={"backend": "none"}))
    log = f"[ERROR DMA-0001] {query}\n"
    public = bot.run("explain_log", {"log": log})
    team = bot.run("explain_log", {"log": log}, user_groups={group, "public"})
    assert path not in {s.path for s in public.sources}
    assert path in {s.path for s in team.sources}


def test_secrets_are_scrubbed_before_search_llm_and_answer(bot):
    seen = []

    class Recorder:  # the LLM protocol: records every prompt
        name, model, context_tokens = "scripted", "scripted-1", 4096

        def count_tokens(self, text):
            return len(text.split())

        def complete(self, messages, **kw):
            seen.append(json.dumps(messages))
            return "Congestion is too high: spread cells or re-floorplan [1]. See also [42]."

        def stream(self, messages, **kw):
            yield self.complete(messages)

    view = Assistant(bot.settings.model_copy(update={"llm": bot.settings.llm.model_copy(update={"backend": "openai"})}),
                     _shared=bot._shared)
    view.llm = Recorder()
    log = OPENROAD_LOG + ("[ERROR ORD-2011] license server refused token xoxb-123456789012-abcdefghijkl "
                          "and key Zq8-hunter2-Passphrase-77\n")
    result = view.run("explain_log", {"log": log})
    dumped = result.model_dump_json()
    for secret in ("sk-proj-4fJx9QmT2wLzR8vYbN3cKdE7hUa1sGi6", "xoxb-123456789012-abcdefghijkl",
                   "Zq8-hunter2-Passphrase-77"):
        assert secret not in dumped and not any(secret in p for p in seen)
    assert result.secrets_redacted == 3 and "redacted" in result.warnings[0]
    assert "[REDACTED:slack_token]" in dumped and "[REDACTED:setting]" in dumped
    # the LLM wrote the explanation: its [1] is kept, the invented [42] removed, the prompt holds the messages
    assert not result.retrieval_only and result.backend == "scripted" and "[1]" in result.text
    assert "[42]" not in result.text and "GRT-0119" in seen[0] and "Routing congestion too high" in seen[0]
    assert "**Explanation**" in get("explain_log").render_markdown(result)


def test_oversized_and_empty_logs_get_clear_messages(bot, tmp_path):
    with pytest.raises(JobInputError, match="at most 1,000,000"):
        bot.run("explain_log", {"log": "Warning: x\n" * 100_000})
    with pytest.raises(JobInputError, match="Paste a tool log"):
        get("explain_log").from_text("   ", [])
    clean = bot.run("explain_log", {"log": "all good\nDone.\n"})
    assert clean.issues == [] and "No errors or warnings" in clean.text


def test_cli_command_comes_from_the_registry(qa_index, tmp_path):
    from assistant.cli import app

    runner = CliRunner()
    assert "explain-log" in runner.invoke(app, ["--help"]).stdout
    log = LOGS / "openroad_route.log"
    res = runner.invoke(app, ["explain-log", str(log), "--index", str(qa_index), "--backend", "none", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["tool"] == "openroad" and out["issues"][0]["id"] == "GRT-0119"
    assert "sk-proj-4fJx9QmT2wLzR8vYbN3cKdE7hUa1sGi6" not in res.stdout
    res = runner.invoke(app, ["explain-log", "-", "--index", str(qa_index), "-k", "1"], input=YOSYS_LOG)
    assert res.exit_code == 0 and "Module `\\uart_rx'" in res.stdout and "**Sources**" in res.stdout, res.output
    res = runner.invoke(app, ["explain-log", str(tmp_path / "missing.log"), "--index", str(qa_index)])
    assert res.exit_code == 2 and "missing.log: no such file" in " ".join(res.output.split())
