"""Generation: prompt, check, repair rounds (scripted model answers are the input under test), `none` backend."""
import pytest

from assistant.config import load_settings
from assistant.service import Assistant
from assistant.tcl.generate import extract_script
from assistant.tcl.prompt import relevant_commands
from assistant.tcl.commands import get_db

HALLUCINATED = """Here is the script:
```tcl
yosys read_verilog counter.v
yosys synth -top counter -flatten
yosys print_cells
```"""
TYPOS = """```tcl
yosys read_verilog counter.v
synth -top counter -flaten
yosys tee -o stat.txt stat
```"""
CORRECT = """```tcl
yosys read_verilog counter.v
yosys synth -top counter -flatten
yosys tee -o stat.txt stat
```"""


def _bot(tmp_path, llm=None) -> Assistant:
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data"))
    bot.llm = llm  # the service's lazily loaded backend, set directly
    return bot


def test_repair_loop_fixes_an_invented_command(yosys, design, tmp_path, scripted_llm):
    llm = scripted_llm([HALLUCINATED, CORRECT])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter.v and report the cell count", tool="yosys",
                                           design=design, rounds=2)
    assert gen.check.ok and gen.rounds_used == 1 and gen.attempts == 2 and "print_cells" not in gen.script
    assert gen.backend == "scripted" and not gen.retrieval_only
    first_prompt, repair_prompt = llm.prompts[0], llm.prompts[1]
    assert "synth -top counter" in first_prompt[1]["content"]
    assert "counter.v" in first_prompt[1]["content"] and "top: counter" in first_prompt[1]["content"]
    # worked examples from the cookbook, filled in with the user's own file and top; no command list to copy
    assert "```tcl\n# Synthesize the design and print its cell statistics" in first_prompt[1]["content"]
    assert "yosys read_verilog counter.v\nyosys synth -top counter\nyosys stat" in first_prompt[1]["content"]
    assert "- hierarchy" not in first_prompt[1]["content"] and "- abc" not in first_prompt[1]["content"]
    feedback = repair_prompt[-1]["content"]
    assert "line 3" in feedback and "print_cells" in feedback and "  3| yosys print_cells" in feedback


def test_repair_shows_usage_of_the_failing_command_and_resamples_a_repeat(yosys, design, tmp_path, scripted_llm):
    bad_option = "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\nyosys stat -cellcount\n```"
    llm = scripted_llm([bad_option, bad_option, CORRECT])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter.v and report the cell count", design=design, rounds=2)
    assert gen.check.ok and gen.attempts == 3
    # the option is not a typo of a real one, so the repair prompt carries stat's real options
    assert "Usage of those commands:\n- stat " in llm.prompts[1][-1]["content"]
    assert "-tech <value>" in llm.prompts[1][-1]["content"]
    # same script back at temperature 0: the next round samples instead of asking for the same answer again
    assert llm.temperatures[:2] == [None, None] and llm.temperatures[2] > 0


def test_a_looping_answer_is_cut_to_one_copy_and_the_next_round_samples(yosys, design, tmp_path, scripted_llm):
    # a repair answer that lost its way: two invented lines alternating until the token cap cut the last one
    looping = ("```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\n"
               + "yosys chtype -cell q -type reg\nyosys chtype -cell q -type wire\n" * 40 + "yosys chty")
    llm = scripted_llm([looping, CORRECT])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter.v and report the cell count", design=design, rounds=2)
    assert gen.check.ok and gen.attempts == 2
    assert any("2 line(s) repeated 40 times (a decoding loop) kept once" in f for f in gen.fixes)
    repair = llm.prompts[1][-1]["content"]
    assert repair.count("chtype -cell q -type reg") <= 2  # the numbered script (and the problems), not 40 copies
    assert llm.temperatures == [None, 0.7]


def test_collapse_loops_keeps_real_repeats_and_brace_runs():
    from assistant.tcl.fixits import collapse_loops
    for script in ("yosys opt\nyosys opt\nyosys stat\n", "foreach a {1} {\nforeach b {2} {\nputs x\n}\n}\n}\n}\n"):
        assert collapse_loops(script) == (script, [])
    assert collapse_loops("x\n" + "yosys add -mod b\n" * 5 + "yosys stat\n")[0] == "x\nyosys add -mod b\nyosys stat\n"


def test_none_backend_with_a_design_returns_cookbook_examples_for_it(yosys, design, tmp_path):
    gen = _bot(tmp_path, None).tcl_generate("write a gate-level netlist of counter without attributes", design=design)
    examples = [s for s in gen.sources if s.chunk_id.startswith("cookbook:")]
    assert examples and examples[0].snippet.startswith("yosys read_verilog counter.v")
    assert "write_verilog -noattr" in examples[0].snippet and "cookbook examples" in gen.message


def test_design_fixits_name_the_real_top_and_prefix_bare_proc(yosys, design, tmp_path, scripted_llm):
    answer = "```tcl\nyosys read_verilog counter.v\nyosys hierarchy -top top\nproc\nyosys synth -top top\n```"
    gen = _bot(tmp_path, scripted_llm([answer])).tcl_generate("synthesize counter", design=design, rounds=0)
    assert gen.check.ok and "yosys synth -top counter" in gen.script and "\nyosys proc\n" in gen.script
    assert sum("-top top" in f for f in gen.fixes) == 2 and any("Tcl's proc" in f for f in gen.fixes)


def test_read_line_names_the_users_files_only():
    from assistant.tcl.design import read_line

    assert read_line("yosys", ["rtl/a.v", "rtl/b.sv", "defs.vh", "notes.txt"]) == "yosys read_verilog -sv rtl/a.v rtl/b.sv"
    assert read_line("openroad", ["a.v"]) is None and read_line("yosys", ["x.txt"]) is None


def test_fixits_settle_typos_and_missing_prefix_without_a_model_round(yosys, design, tmp_path, scripted_llm):
    llm = scripted_llm([TYPOS])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter.v flat", design=design, rounds=2)
    assert gen.check.ok and gen.attempts == 1 and len(llm.prompts) == 1
    assert "yosys synth -top counter -flatten" in gen.script
    assert any("-flaten" in f for f in gen.fixes) and any("yosys synth" in f for f in gen.fixes)


def test_rounds_zero_returns_the_failing_script_with_its_check(yosys, design, tmp_path, scripted_llm):
    gen = _bot(tmp_path, scripted_llm([HALLUCINATED])).tcl_generate("synthesize", design=design, rounds=0)
    assert gen.script.startswith("yosys read_verilog") and not gen.check.ok and gen.rounds_used == 0
    assert gen.check.lint[0].command == "print_cells" and "still has problems" in gen.message


def test_none_backend_returns_references_not_a_script(yosys, tmp_path):
    gen = _bot(tmp_path, None).tcl_generate("synthesize the design and write a netlist", tool="yosys")
    assert gen.script is None and gen.retrieval_only and gen.check is None
    assert "No LLM backend" in gen.message
    titles = {s.title for s in gen.sources}
    assert {"synth", "write_verilog", "read_verilog"} <= titles
    assert all(s.n == i + 1 for i, s in enumerate(gen.sources))


def test_openroad_generation_checks_without_the_tool(tmp_path, scripted_llm):
    answer = "```tcl\nread_lef tech.lef\nglobal_route -verbose\n```"
    gen = _bot(tmp_path, scripted_llm([answer])).tcl_generate("global routing", tool="openroad", rounds=1)
    assert gen.check.ok and not gen.check.run.ran and "not installed" in (gen.check.run.skipped_reason or "")


def test_extract_script_and_relevant_commands(yosys):
    assert extract_script("text\n```tcl\nputs a\n```\nmore") == "puts a\n"
    assert extract_script("puts b") == "puts b\n"
    names = [s.name for s in relevant_commands(get_db("yosys"), "flatten and map flip-flops with dfflibmap")]
    assert names[0] == "read_verilog" and "dfflibmap" in names and "flatten" in names


def test_missing_design_is_refused(tmp_path, scripted_llm):
    from assistant.tcl.check import TclInputError

    with pytest.raises(TclInputError, match="design file not found"):
        _bot(tmp_path, scripted_llm([])).tcl_generate("x", design=tmp_path / "nope.v")


def test_tiny_local_model_runs_through_the_loop(yosys, design, tmp_path):
    """The real local backend end to end: gibberish out, but a checked result with every round accounted for."""
    from tests.support.tiny_llm import build_tiny_llama

    model = build_tiny_llama(tmp_path / "tiny")
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data",
                                  llm={"backend": "local", "model_path": str(model), "max_new_tokens": 24}))
    gen = bot.tcl_generate("synthesize counter.v", tool="yosys", design=design, rounds=1)
    assert gen.backend == "local" and gen.script is not None and gen.check is not None
    assert gen.rounds_used == (0 if gen.check.ok else 1)
    assert any(s.title == "synth" for s in gen.sources)


def test_prompt_names_design_files_as_the_sandbox_has_them(yosys, design, tmp_path, scripted_llm):
    llm = scripted_llm([f"```tcl\nyosys read_verilog {design.parent.name}/counter.v\nyosys synth -top counter\n```"])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize", design=design.parent, rounds=0)
    assert f"{design.parent.name}/counter.v" in llm.prompts[0][1]["content"] and gen.check.ok


INJECTED = """```tcl
yosys read_verilog counter.v
yosys synth -top counter
exec sh -c "echo INJECTED_RAN > counter_pwned.txt"
puts INJECTED_RAN
```"""


def test_injected_exec_in_a_generated_script_is_not_run(yosys, design, tmp_path, scripted_llm):
    """Issue 13 item 3: a poisoned example copied by the model must not be run; the model is asked to fix it."""
    llm = scripted_llm([INJECTED, CORRECT])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter.v", design=design, rounds=1)
    first = llm.prompts[1][-1]["content"]  # the repair request for the injected script
    assert "unsafe: exec" in first and "not allowed" in first
    assert gen.check.ok and gen.check.run.ran and "exec" not in gen.script  # the repaired one ran
    only = _bot(tmp_path, scripted_llm([INJECTED])).tcl_generate("synthesize counter.v", design=design, rounds=0)
    assert not only.check.ok and not only.check.run.ran and "INJECTED_RAN" not in only.check.run.log_tail
    assert "unsafe constructs (exec at line 3)" in only.check.run.skipped_reason


def test_run_unsafe_runs_a_flagged_generated_script_confined(yosys, design, tmp_path, scripted_llm):
    from assistant.tcl.sandbox import confinement  # the probe says whether a run can happen here

    gen = _bot(tmp_path, scripted_llm([INJECTED])).tcl_generate("synthesize counter.v", design=design, rounds=0,
                                                                run_unsafe=True)
    assert not gen.check.ok  # still flagged
    if confinement().ok:
        assert gen.check.run.ran and "INJECTED_RAN" in gen.check.run.log_tail
        assert "counter_pwned.txt" in gen.check.run.artifacts and not (design.parent / "counter_pwned.txt").exists()
    else:
        assert not gen.check.run.ran and "run refused" in gen.check.run.skipped_reason


def test_service_check_output_carries_no_server_secrets(yosys, tmp_path, monkeypatch):
    """Issue 13 item 2: what a pasted script prints comes back scrubbed of every secret the server holds."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1111111111-222222222222-TokenValue")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "SigningSecretValue12345")
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data",
                                  llm={"api_key": "Odd-Shaped-Key-9f8e7d"}))
    script = ('puts "$::env(HOME) Odd-Shaped-Key-9f8e7d SigningSecretValue12345"\n'
              'puts [array get ::env]\nerror "leak Odd-Shaped-Key-9f8e7d"\n')
    result = bot.tcl_check(script)
    shown = result.model_dump_json()
    for secret in ("Odd-Shaped-Key-9f8e7d", "SigningSecretValue12345", "TokenValue"):
        assert secret not in shown
    if result.run.ran:
        assert "[REDACTED:setting]" in result.run.log_tail and "SLACK" not in result.run.log_tail


def test_slack_tcl_verb_never_runs_an_injected_script(yosys, tmp_path, scripted_llm):
    """Issue 13 item 3 through the Slack `tcl` verb (any Slack user can reach it)."""
    pytest.importorskip("slack_bolt")
    from assistant.config import SlackConfig
    from assistant.feedback import FeedbackStore
    from assistant.slack.bot import SlackBot

    bot = SlackBot(_bot(tmp_path, scripted_llm([INJECTED] * 3)), SlackConfig(), FeedbackStore(tmp_path / "fb.sqlite"))
    mode, text, gen = bot.route("tcl synthesize counter.v", "U_ANYONE")
    assert mode == "tcl" and "exec" in gen.script and not gen.check.run.ran
    assert "FAILED" in text and "unsafe" in text and "INJECTED_RAN" not in gen.check.run.log_tail


def test_a_named_module_brings_the_package_it_uses_read_first(tmp_path):
    from assistant.tcl.design import design_modules

    (tmp_path / "a_sync.sv").write_text("module a_sync(input logic [p_pkg::N-1:0] d);\nendmodule\n")
    (tmp_path / "p_pkg.sv").write_text("package p_pkg;\n  localparam int N = 2;\nendpackage\n")
    (tmp_path / "other.v").write_text("module other;\nendmodule\n")
    modules, tops, files, needed = design_modules([tmp_path], "synthesize a_sync")
    assert files == [f"{tmp_path.name}/p_pkg.sv", f"{tmp_path.name}/a_sync.sv"] and tops == ["a_sync"]


def test_a_module_named_by_its_description_is_found_from_the_file_title(tmp_path):
    from assistant.tcl.design import design_modules

    (tmp_path / "crg.v").write_text("// crg.v - SoC clock and reset generator.\nmodule crg_sync;\nendmodule\n"
                                    "module crg;\n  crg_sync u0 ();\nendmodule\n")
    (tmp_path / "dma.v").write_text("// dma.v - SoC DMA engine with reset logic.\nmodule dma;\nendmodule\n")
    (tmp_path / "top.v").write_text("// top.v - SoC top level.\nmodule top;\n  crg u1 ();\n  dma u2 ();\nendmodule\n")
    _, tops, files, _ = design_modules([tmp_path], "Synthesize the clock and reset generator")
    assert tops == ["crg"] and files == [f"{tmp_path.name}/crg.v"]
    # a word most titles share does not count, and one word is not enough: everything is read
    _, tops, files, _ = design_modules([tmp_path], "Synthesize the reset logic")
    assert tops == ["top"] and len(files) == 3


def test_a_part_described_by_its_title_wins_over_the_module_whose_name_the_description_uses(tmp_path):
    from assistant.tcl.design import design_modules

    (tmp_path / "uart.v").write_text("// uart.v - SoC UART0 with APB registers.\nmodule uart;\n  uart_rx u0 ();\n"
                                     "  uart_tx u1 ();\nendmodule\n")
    (tmp_path / "uart_rx.v").write_text("// uart_rx.v - SoC UART receiver (8N1).\nmodule uart_rx;\nendmodule\n")
    (tmp_path / "uart_tx.v").write_text("// uart_tx.v - SoC UART transmitter (8N1).\nmodule uart_tx;\nendmodule\n")
    for name, title in (("timer", "SoC timer"), ("dma", "SoC DMA engine"), ("cru", "SoC clock and reset unit")):
        (tmp_path / f"{name}.v").write_text(f"// {name}.v - {title}.\nmodule {name};\nendmodule\n")
    _, tops, files, _ = design_modules([tmp_path], "Synthesize the UART receiver for an iCE40")
    assert tops == ["uart_rx"] and files == [f"{tmp_path.name}/uart_rx.v"]
    # the whole UART when no part is described, and a module named outside the described one stays
    assert design_modules([tmp_path], "Synthesize the UART (uart with uart_tx and uart_rx)")[1] == ["uart"]
    assert design_modules([tmp_path], "Synthesize the timer and the UART receiver")[1] == ["timer", "uart_rx"]


def test_a_script_that_runs_clean_but_skips_the_tasks_file_goes_back_to_the_model(yosys, design, tmp_path,
                                                                                     scripted_llm):
    out = tmp_path / "out"
    out.mkdir()
    wrong = "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\nyosys write_json netlist.json\nyosys stat\n```"
    right = "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\nyosys write_json out/counter.json\n```"
    llm = scripted_llm([wrong, right])
    # (a Verilog netlist: no one certain writer line, so the fix-its leave it to the model; a BLIF would be added)
    task = "synthesize counter and save the netlist as JSON in out/counter.json; also write out/counter.v"
    gen = _bot(tmp_path, llm).tcl_generate(task, design=[design, out], rounds=1)
    # round 0: the fix-it writes the JSON where the task said; the run is clean, but no netlist was written
    assert any("`netlist.json` -> `out/counter.json`" in f for f in gen.fixes)
    assert "the task asks for the file out/counter.v, but the script did not write it" in llm.prompts[1][-1]["content"]
    assert gen.attempts == 2 and gen.check.ok and gen.missing_outputs == ["out/counter.v"]
    assert "did not write out/counter.v" in gen.message
    from assistant.tcl.design import DesignView
    from assistant.tcl.generate import missing_outputs
    # the design's own files named in a task are inputs, never outputs to write
    view = DesignView.of([design], "read counter.v and synthesize")
    assert view.outputs == [] and missing_outputs(gen.check, view.outputs) == []


def test_a_file_holding_the_wrong_kind_of_output_goes_back_to_the_model(yosys, design, tmp_path, scripted_llm):
    out = tmp_path / "out"
    out.mkdir()
    # the statistics written where the task asked for the gate netlist: clean run, every file written, wrong task
    wrong = "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\nyosys tee -o out/counter_gates.v stat\n```"
    right = "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\nyosys write_verilog out/counter_gates.v\n```"
    llm = scripted_llm([wrong, right])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter and write the gate netlist to out/counter_gates.v",
                                           design=[design, out], rounds=1)
    assert "- out/counter_gates.v holds a yosys stat report, not a Verilog netlist as the task asks" \
        in llm.prompts[1][-1]["content"]
    assert gen.attempts == 2 and gen.check.ok and gen.wrong_outputs == [] and "passed all checks" in gen.message
    # with no round left, the wrong file is what the user is told about
    gen = _bot(tmp_path, scripted_llm([wrong])).tcl_generate(
        "synthesize counter and write the gate netlist to out/counter_gates.v", design=[design, out], rounds=0)
    assert gen.check.ok and gen.wrong_outputs and "ran clean but out/counter_gates.v holds a yosys stat" in gen.message


def test_a_file_name_does_not_name_its_module_when_a_word_names_one(tmp_path):
    from assistant.tcl.design import design_modules

    (tmp_path / "crg.v").write_text("module crg_sync(input c);\nendmodule\nmodule crg_gate(input c);\nendmodule\n"
                                    "module crg(input c);\n  crg_sync u0 (.c(c));\n  crg_gate u1 (.c(c));\nendmodule\n")
    _, tops, files, needed = design_modules([tmp_path], "Synthesize crg_sync (it is in crg.v)")
    # the module's own body, not its file, says what it instantiates: crg_gate is not pulled in
    assert tops == ["crg_sync"] and needed == ["crg_sync"] and files == [f"{tmp_path.name}/crg.v"]
    assert design_modules([tmp_path], "Synthesize crg.v")[1] == ["crg"]  # no word names one: the file does


def test_a_script_that_never_reads_the_design_gets_its_read_line(yosys, design, tmp_path, scripted_llm):
    bare = "```tcl\nyosys synth -top counter\nyosys tee -o stat.txt stat\n```"
    gen = _bot(tmp_path, scripted_llm([bare])).tcl_generate("synthesize counter", design=design, rounds=0)
    assert gen.check.ok and gen.script.startswith("yosys read_verilog counter.v\nyosys synth -top counter")
    assert any("the script never read the design" in f for f in gen.fixes)


def test_a_flag_the_task_names_is_added_where_its_command_is_called(yosys, design, tmp_path, scripted_llm):
    from assistant.tcl.options import named_flags

    plain = "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\nyosys write_json out.json\n```"
    gen = _bot(tmp_path, scripted_llm([plain])).tcl_generate(
        "synthesize counter flattened and write it as JSON to out.json", design=design, rounds=0)
    assert gen.check.ok and "yosys synth -flatten -top counter" in gen.script
    db = get_db("yosys")
    # a word the script already covers, or one naming what a command acts on, asks for no flag
    assert named_flags(db, "write the JSON", "yosys write_json a.json\nyosys stat\n") == []
    assert named_flags(db, "prove the reset synchronizer equivalent", "yosys design -reset\nyosys equiv_make a b c\n") == []
    assert [h.name for h in named_flags(db, "map it to sum-of-products", "yosys abc -lut 4\n")] == []


def test_a_flag_the_task_turns_down_is_taken_out_and_never_added(yosys, design, tmp_path, scripted_llm):
    from assistant.tcl.options import drop_refused, named_flags

    flat = "```tcl\nsynth -flatten -top counter\nflatten\ntee -o out.txt stat\n```"  # no prefixes: a small model's
    gen = _bot(tmp_path, scripted_llm([flat])).tcl_generate(
        "synthesize counter keeping the hierarchy (do not flatten) and write its stats to out.txt", design=design,
        rounds=0)
    assert gen.check.ok and "flatten" not in gen.script and "yosys synth -top counter" in gen.script
    assert "yosys read_verilog counter.v" in gen.script  # the read line is added after the prefixes are
    db = get_db("yosys")
    assert named_flags(db, "synthesize it without flattening", "yosys synth -top counter\n") == []
    assert [h.name for h in named_flags(db, "do not purge, but flatten it", "yosys synth -top c\n")] == ["synth -flatten"]
    # a flag the task asks for stays; a word after "NOR" is no refusal (NOR is a gate)
    assert drop_refused(db, "synthesize it flattened", "yosys synth -flatten -top c\n")[1] == []
    assert drop_refused(db, "map to AND, NOR flatten cells", "yosys synth -flatten -top c\n")[1] == []


def test_rounds_alternate_repair_and_a_fresh_sample_and_the_furthest_script_is_returned(yosys, design, tmp_path,
                                                                                          scripted_llm):
    early = "```tcl\nyosys read_verilog counter.v\nyosys print_cells\nyosys synth -top counter\n```"
    late = "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\nyosys stat\nyosys print_cells\n```"
    llm = scripted_llm([late, early, early])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter and report the cell count", design=design, rounds=2)
    # round 1 repairs round 0's script; round 2 samples the first prompt again, at another seed
    assert "The checker ran this script" in llm.prompts[1][-1]["content"]
    assert llm.prompts[2] == llm.prompts[0] and llm.temperatures[2] > 0 and llm.seeds[2] not in (None, 0)
    # none passed: the script whose problem came latest is returned, not the last one written
    assert not gen.check.ok and "yosys stat" in gen.script and gen.rounds_used == 0 and gen.attempts == 3
