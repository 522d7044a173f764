"""Model answers without a proper code block: a bare script, a fence cut off by the token cap, and prose with
no fence at all, through the real generation loop (real yosys; the scripted model's answers are the input)."""
from assistant.config import load_settings
from assistant.service import Assistant
from assistant.tcl.generate import extract_script

SCRIPT = "yosys read_verilog counter.v\nyosys synth -top counter\nyosys tee -o stat.txt stat\n"


def _bot(tmp_path, llm) -> Assistant:
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data"))
    bot.llm = llm
    return bot


def test_extract_script_without_a_closed_fence():
    assert extract_script("Here is the script:\n```tcl\n" + SCRIPT) == SCRIPT  # max_new_tokens hit mid-block
    assert extract_script("```\n" + SCRIPT + "```\nThis reads the design.") == SCRIPT
    assert extract_script(SCRIPT) == SCRIPT  # no fence: the whole answer is the script


def test_a_fence_cut_off_by_the_token_cap_passes_without_a_repair(yosys, design, tmp_path, scripted_llm):
    llm = scripted_llm(["Here is the script:\n```tcl\n" + SCRIPT])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter.v and report the cell count", design=design, rounds=2)
    assert gen.check.ok and gen.attempts == 1 and gen.script == SCRIPT


def test_a_bare_script_without_a_fence_is_checked_as_it_is(yosys, design, tmp_path, scripted_llm):
    gen = _bot(tmp_path, scripted_llm([SCRIPT])).tcl_generate("synthesize counter.v", design=design, rounds=0)
    assert gen.check.ok and gen.script == SCRIPT


def test_prose_without_a_fence_goes_back_to_the_model_with_its_line(yosys, design, tmp_path, scripted_llm):
    prose = "Sure! To synthesize the counter, run these commands:\n" + SCRIPT
    llm = scripted_llm([prose, "```tcl\n" + SCRIPT + "```"])
    gen = _bot(tmp_path, llm).tcl_generate("synthesize counter.v", design=design, rounds=1)
    assert gen.check.ok and gen.rounds_used == 1 and gen.attempts == 2 and gen.script == SCRIPT
    feedback = llm.prompts[1][-1]["content"]
    assert "line 1" in feedback and "Sure!" in feedback  # the exact problem went back, not a crash
