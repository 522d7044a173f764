"""Option hints (assistant.tcl.options): the yosys options and commands whose own help matches an engineer's
wording, on the installed yosys's real help text, and how they reach the generation prompt."""
from __future__ import annotations

import pytest

from assistant.tcl.generate import generate_script
from assistant.tcl.prompt import fit as _fit
from assistant.tcl.options import HINT_CHARS, Hint, find_hints


@pytest.fixture(scope="module")
def ydb(yosys):
    from assistant.tcl.yosys_db import load_yosys_db

    return load_yosys_db()


def _heads(db, task, n=4):
    return [f"{h.command} {h.option}".strip() for h in find_hints(db, task, n)]


@pytest.mark.parametrize("task,expected", [
    ("write a BLIF file where every cell is a .gate line, not a .subckt", "write_blif -gates"),
    ("then a purging clean-up so that redundant internal net names are dropped", "opt_clean -purge"),
    ("save the cell statistics in a machine-readable JSON format", "stat -json"),
    ("map the logic with abc to sum-of-products cells", "abc -sop"),
    ("dump the counterexample trace found by the SAT solver as VCD", "sat -dump_vcd"),
    ("synthesize it for a Lattice iCE40 FPGA", "synth_ice40"),
])
def test_the_option_an_engineer_describes_is_hinted(ydb, task, expected):
    assert expected in _heads(ydb, task)


def test_development_passes_and_generic_words_give_no_hints(ydb):
    assert not [h for h in find_hints(ydb, "gate level netlist checks with test cells and a bugpoint", 8)
                if h.command.startswith(("test_", "bugpoint", "verific"))]
    assert find_hints(ydb, "synthesize the design and write the netlist file") == []


def test_hints_are_short_and_at_most_two_per_command(ydb):
    hints = find_hints(ydb, "synthesize for a Lattice iCE40 FPGA with DSP cells and write the JSON for nextpnr", 6)
    assert hints and all(len(h.line()) <= len(f"{h.command} {h.option} <value>: ") + HINT_CHARS + 4 for h in hints)
    assert max(sum(h.command == c for h in hints) for c in {h.command for h in hints}) <= 2
    assert hints == sorted(hints, key=lambda h: -h.score)


def test_hints_reach_the_prompt_and_go_before_the_examples_when_it_is_too_long(tmp_path, scripted_llm):
    hints = [Hint("write_blif", "-gates", False, "print .gate instead of .subckt lines", 17.0)]
    from assistant.tcl.design import DesignView

    view = DesignView.of([], "task")
    examples = [("Write a BLIF", "yosys write_blif out.blif\n")]
    llm = scripted_llm([])
    llm.context_tokens = 10_000
    roomy = _fit(llm, "every cell a .gate line", "yosys", view, [], [], examples, hints=hints)[1]["content"]
    assert "- write_blif -gates: print .gate instead of .subckt lines" in roomy and "Write a BLIF" in roomy
    llm.context_tokens = int(len(roomy.split()) / 0.6) - 5  # too small for both: the hints go first
    tight = _fit(llm, "every cell a .gate line", "yosys", view, [], [], examples, hints=hints)[1]["content"]
    assert "write_blif -gates" not in tight and "Write a BLIF" in tight


def test_generation_prompt_carries_the_matching_option(yosys, design, tmp_path, scripted_llm):
    llm = scripted_llm(["```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\n"
                        "yosys tee -o stat.json stat -json\n```"])
    bot = type("Bot", (), {"llm": llm, "settings": None, "search": lambda self, *a, **k: []})()
    gen = generate_script(bot, "synthesize the counter and save its statistics in machine-readable JSON format "
                          "to stat.json", design=design, rounds=0)
    assert "stat -json: output the statistics in a machine-readable JSON format" in llm.prompts[0][1]["content"]
    assert gen.check.ok, gen.check


def _bot(llm):
    return type("Bot", (), {"llm": llm, "settings": None, "search": lambda self, *a, **k: []})()


PURGE = ("Synthesize the counter flattened, then do a purging clean-up so that redundant internal net names (nets "
         "that are only aliases of other nets) are dropped")
PLAIN = "```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\n```"


def test_the_key_flag_is_added_without_a_model_round(yosys, design, scripted_llm):
    task = "Synthesize the counter and write a BLIF file c.blif where every cell is a .gate line, not a .subckt"
    llm = scripted_llm(["```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\nyosys write_blif c.blif\n```"])
    gen = generate_script(_bot(llm), task, design=design, rounds=2)
    assert "yosys write_blif -gates c.blif" in gen.script and gen.check.ok and gen.rounds_used == 0
    assert any("`write_blif -gates`" in f for f in gen.fixes)


def test_a_passing_script_without_the_key_command_goes_back_once(yosys, design, scripted_llm):
    llm = scripted_llm([PLAIN, PLAIN.replace("counter\n```", "counter\nyosys opt_clean -purge\n```")])
    gen = generate_script(_bot(llm), PURGE, design=design, rounds=3)
    assert len(llm.prompts) == 2 and gen.rounds_used == 1 and gen.check.ok
    assert "`opt_clean -purge`" in llm.prompts[1][-1]["content"] and "runs clean" in llm.prompts[1][-1]["content"]
    assert "yosys opt_clean -purge" in gen.script and "seems to ask" not in gen.message


def test_a_key_repair_that_breaks_the_script_keeps_the_passing_one(yosys, design, scripted_llm):
    llm = scripted_llm([PLAIN, PLAIN.replace("counter\n```", "counter\nyosys opt_clean -purge -bogus\n```")])
    gen = generate_script(_bot(llm), PURGE, design=design, rounds=3)
    assert len(llm.prompts) == 2 and gen.check.ok and gen.rounds_used == 0 and "-bogus" not in gen.script
    assert "broke it" in gen.message and "seems to ask for `opt_clean -purge`" in gen.message


def test_no_round_is_spent_on_a_key_hint_when_none_stands_out(yosys, design, scripted_llm):
    llm = scripted_llm([PLAIN])
    gen = generate_script(_bot(llm), "synthesize the counter", design=design, rounds=3)
    assert len(llm.prompts) == 1 and gen.check.ok


def test_retrieval_only_generation_returns_the_hints_as_sources(yosys, design):
    gen = generate_script(_bot(None), PURGE, design=design)
    helps = [s for s in gen.sources if s.chunk_id.startswith("help:yosys:")]
    assert gen.retrieval_only and helps[0].title == "opt_clean -purge" and "public name" in helps[0].snippet
    assert [s.n for s in gen.sources] == list(range(1, len(gen.sources) + 1))
