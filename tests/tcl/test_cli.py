"""`chipassist tcl check|commands|generate`: JSON shape, exit codes, clean errors."""
import json

from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()


def test_check_json_shape_and_exit_codes(yosys, design, tmp_path):
    bad = tmp_path / "bad.tcl"
    bad.write_text("yosys read_verilog counter.v\nyosys synth -top counter -flaten\n")
    res = runner.invoke(app, ["tcl", "check", str(bad), "--tool", "yosys", "--design", str(design), "--json"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"ok", "syntax", "lint", "run"} and out["ok"] is False
    assert out["lint"] == [{"line": 2, "command": "synth", "option": "-flaten", "problem": "unknown_option",
                            "suggestion": "-flatten, -lut, -flowmap"}]
    assert out["run"]["ran"] and out["run"]["errors"][0]["line"] == 2
    good = tmp_path / "good.tcl"
    good.write_text("yosys read_verilog counter.v\nyosys synth -top counter\n")
    res = runner.invoke(app, ["tcl", "check", str(good), "--design", str(design)])
    assert res.exit_code == 0 and "OK" in res.stdout


def test_check_bad_input_exits_2_naming_the_file(tmp_path):
    latin = tmp_path / "latin.tcl"
    latin.write_bytes(b"puts caf\xe9\n")
    res = runner.invoke(app, ["tcl", "check", str(latin)])
    assert res.exit_code == 2 and "latin.tcl:" in res.output and "not UTF-8" in res.output
    ok = tmp_path / "ok.tcl"
    ok.write_text("puts hi\n")
    res = runner.invoke(app, ["tcl", "check", str(ok), "--design", str(tmp_path / "gone.v")])
    assert res.exit_code == 2 and "design file not found" in res.output and "gone.v" in res.output


def test_check_timeout_option(yosys, tmp_path):
    loop = tmp_path / "loop.tcl"
    loop.write_text("while 1 {}\n")
    res = runner.invoke(app, ["tcl", "check", str(loop), "--timeout", "1", "--json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["run"]["timed_out"] is True


def test_check_bad_timeout_is_a_clear_error_not_a_traceback(tmp_path):
    """Issue 13 item 13: `--timeout 0` (and other impossible values) exit 2 naming the option."""
    ok = tmp_path / "ok.tcl"
    ok.write_text("puts hi\n")
    for value, why in (("0", "greater than 0"), ("-5", "greater than 0"), ("99999", "less than or equal to 3600"),
                       ("nan", "finite number")):
        res = runner.invoke(app, ["tcl", "check", str(ok), "--timeout", value])
        assert res.exit_code == 2 and isinstance(res.exception, SystemExit), (value, res.exception)
        assert "--timeout" in res.output and why in res.output and "Traceback" not in res.output
        assert "(got " in res.output  # the shared format: the value given


def test_commands_lists_tools_and_one_command(yosys):
    res = runner.invoke(app, ["tcl", "commands", "--tool", "openroad", "initialize_floorplan", "--json"])
    (spec,) = json.loads(res.stdout)
    assert res.exit_code == 0 and any(o["name"] == "-site" and o["required"] for o in spec["options"])
    res = runner.invoke(app, ["tcl", "commands", "--tool", "yosys"])
    assert res.exit_code == 0 and "synth" in res.stdout
    res = runner.invoke(app, ["tcl", "commands", "--tool", "yosys", "synht"])
    assert res.exit_code == 1 and "synth" in res.output


def test_generate_with_none_backend_prints_references(yosys, tmp_path):
    res = runner.invoke(app, ["tcl", "generate", "synthesize and report cells", "--backend", "none",
                              "--index", str(tmp_path / "none"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["script"] is None and out["retrieval_only"] and any(s["title"] == "synth" for s in out["sources"])


def test_generate_over_an_openai_compatible_server_writes_the_repaired_script(yosys, design, tmp_path,
                                                                              scripted_llm, monkeypatch):
    """CLI -> service -> OpenAI backend over real HTTP -> a local server whose 'model' answers from a script."""
    from tests.support.openai_server import OpenAIServer

    answers = ["```tcl\nyosys read_verilog counter.v\nyosys synth -top counter -flatten\nyosys print_cells\n```",
               "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter -flatten\n```"]
    out = tmp_path / "flow.tcl"
    with OpenAIServer(scripted_llm(answers), model_id="scripted") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        res = runner.invoke(app, ["tcl", "generate", "synthesize counter.v", "--backend", "openai",
                                  "--design", str(design), "--rounds", "2", "-o", str(out),
                                  "--index", str(tmp_path / "none"), "--json"])
    assert res.exit_code == 0, res.output
    gen = json.loads(res.stdout)
    assert gen["backend"] == "openai" and gen["rounds_used"] == 1 and gen["check"]["ok"]
    assert out.read_text() == gen["script"] and "-flatten" in gen["script"]


def test_generate_prints_the_fixes_and_one_line_per_kind_of_context(yosys, design, tmp_path, scripted_llm,
                                                                    monkeypatch):
    """Beside a script the user sees what was changed without the model, and the prompt's context (command help,
    examples) as one line per kind, not a page of snippets; the JSON keeps everything."""
    from tests.support.openai_server import OpenAIServer

    answer = "```tcl\nread_verilog counter.v\nsynth -top counter\n```"
    with OpenAIServer(scripted_llm([answer]), model_id="scripted") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        res = runner.invoke(app, ["tcl", "generate", "synthesize counter.v", "--backend", "openai",
                                  "--design", str(design), "--rounds", "0", "--index", str(tmp_path / "none")])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())  # rich wraps long lines
    assert "fixed without the model (2):" in out and "`read_verilog` -> `yosys read_verilog`" in out
    assert "yosys synth -top counter" in out
    # the command help and the examples shown to the model: one line each, naming them, no usage or script text
    assert "yosys help: [1] read_verilog, [2] hierarchy," in out and "yosys cookbook: [" in out
    assert "translate processes to netlists" not in out and "generic synthesis script" not in out


def test_every_client_lists_a_scripts_context_by_kind_and_links_only_real_files():
    """The markdown (chat page, API) and Slack list a script's command help and cookbook examples one line per
    kind; only the indexed file gets a link (a link to "yosys help" would lead nowhere)."""
    from assistant.jobs import get
    from assistant.slack.format import format_tcl
    from assistant.types import Source, TclGeneration

    def src(n, chunk_id, path, title):
        return Source(n=n, chunk_id=chunk_id, path=path, title=title, snippet="usage text", score=1.0, kind="tcl",
                      start_line=3 if n == 1 else 0, end_line=9 if n == 1 else 0)

    gen = TclGeneration(task="t", tool="yosys", script="yosys synth\n", message="passed", sources=[
        src(1, "flows/synth_uart.tcl#0", "flows/synth_uart.tcl", "synth_uart.tcl"),
        src(2, "commands:yosys:synth", "yosys help", "synth"), src(3, "help:yosys:stat:-width", "yosys help", "stat"),
        src(4, "cookbook:yosys:0", "yosys cookbook", "Synthesize and print the statistics")])
    markdown = get("tcl_generate").render_markdown(gen)
    assert "- [1] flows/synth_uart.tcl — synth_uart.tcl" in markdown
    assert "- yosys help: [2] synth, [3] stat" in markdown
    assert "- yosys cookbook: [4] Synthesize and print the statistics" in markdown
    slack = format_tcl(gen, source_url="https://git.example.com/blob/main/{path}#L{start}-L{end}")
    assert "<https://git.example.com/blob/main/flows/synth_uart.tcl#L3-L9|flows/synth_uart.tcl>" in slack
    assert "yosys help: [2] synth, [3] stat" in slack and slack.count("https://") == 1
