"""SFT rows from checked Tcl tasks: the generator's own first prompt, answered by the reference script; tasks whose
reference fails, or that are excluded, are reported and not written."""
from __future__ import annotations

import json

import pytest

from assistant.config import load_settings
from assistant.service import Assistant
from assistant.tcl.sft_data import answer_block, recorded_answers, write_sft_rows
from assistant.tcl.tasks import load_tasks
from tests.tcl.conftest import COUNTER_V

GOOD = {"id": "c1", "task": "synthesize counter and write the netlist to <out>/counter_syn.v",
        "design": ["rtl/counter.v"], "top": "counter",
        "checks": [{"type": "file_contains", "path": "<out>/counter_syn.v", "pattern": "module counter"}],
        "reference": "yosys read_verilog rtl/counter.v\nyosys synth -top counter\n"
                     "yosys write_verilog <out>/counter_syn.v\n"}
WRONG = {**GOOD, "id": "c2", "reference": "yosys read_verilog rtl/counter.v\nyosys synth -top counter\n"}
OTHER = {**GOOD, "id": "c3", "task": "synthesize counter flat and write it to <out>/flat.v",
         "checks": [{"type": "file_exists", "path": "<out>/flat.v"}],
         "reference": "yosys read_verilog rtl/counter.v\nyosys synth -flatten -top counter\n"
                      "yosys write_verilog <out>/flat.v\n"}


@pytest.fixture()
def tasks_file(tmp_path):
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "counter.v").write_text(COUNTER_V)
    f = tmp_path / "tasks.jsonl"
    f.write_text("".join(json.dumps(t) + "\n" for t in (GOOD, WRONG, OTHER)))
    return f


def test_rows_hold_the_generators_own_prompt_and_the_checked_reference(yosys, tasks_file, tmp_path, scripted_llm):
    llm = scripted_llm([])
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data"))
    bot.llm = llm
    rep = write_sft_rows(bot, [tasks_file], tmp_path / "sft.jsonl", exclude={"c3"})
    rows = [json.loads(ln) for ln in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert rep["rows"] == 1 and [r["id"] for r in rows] == ["c1"]
    why = {s["id"]: s["why"] for s in rep["skipped"]}
    assert why["c3"] == "excluded" and why["c2"].startswith("reference fails") and "counter_syn.v" in why["c2"]
    assert not llm.prompts and bot.llm is llm  # the model itself was never asked, and is put back
    msgs = rows[0]["messages"]
    assert msgs[-1] == {"role": "assistant", "content": answer_block(GOOD["reference"].replace("<out>", "out"))}
    # the prompt is the one the generator sends the model for this task
    llm = scripted_llm([msgs[-1]["content"]])
    bot.llm = llm
    (tmp_path / "x" / "out").mkdir(parents=True)
    gen = bot.tcl_generate(GOOD["task"].replace("<out>", "out"), design=[tasks_file.parent / "rtl",
                                                                        tmp_path / "x" / "out"], rounds=0,
                           references=False)
    assert llm.prompts[0] == msgs[:-1] and gen.check.ok


def test_a_model_is_needed_and_bad_task_lines_are_named(tmp_path):
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data"))
    bot.llm = None
    with pytest.raises(ValueError, match="needs the model"):
        write_sft_rows(bot, [], tmp_path / "o.jsonl")
    bad = tmp_path / "t.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"t\.jsonl:2: not JSON"):
        load_tasks(bad)
    bad.write_text(json.dumps({"id": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"t\.jsonl:1: a task needs"):
        load_tasks(bad)


def test_recorded_failing_scripts_become_repair_rows_answered_by_the_reference(yosys, tasks_file, tmp_path,
                                                                              scripted_llm):
    bad = "```tcl\nyosys read_verilog rtl/counter.v\nyosys synth -top counter\nyosys frobnicate_netlist -x\n" \
          "yosys write_verilog out/counter_syn.v\n```"
    good = answer_block(GOOD["reference"].replace("<out>", "out"))
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in (
        {"task": "c1", "references": False, "calls": [{"answer": bad}, {"answer": good}, {"answer": bad}]},
        {"task": "c1", "references": True, "calls": [{"answer": "```tcl\nyosys nonsense_with_refs\n```"}]})))
    answers = recorded_answers([records])
    assert answers == {"c1": [bad, good]}  # distinct, in order; runs with references are another prompt
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data"))
    bot.llm = scripted_llm([])
    rep = write_sft_rows(bot, [tasks_file], tmp_path / "sft.jsonl", exclude={"c3"}, repairs=answers)
    rows = [json.loads(ln) for ln in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["c1", "c1/repair1"] and rep["repair_rows"] == 1  # the passing one gives none
    msgs = rows[1]["messages"]
    assert msgs[-1] == {"role": "assistant", "content": good}
    assert "frobnicate_netlist" in msgs[-3]["content"] and msgs[-3]["weight"] == 0  # its own script: not learnt
    assert "Problems:" in msgs[-2]["content"] and "frobnicate_netlist" in msgs[-2]["content"]
    records.write_text(json.dumps({"id": "c1"}) + "\n")
    with pytest.raises(ValueError, match=r"records\.jsonl:1: a record without"):
        recorded_answers([records])


def test_a_replayed_script_that_solves_the_task_gives_no_row_even_when_sent_back(yosys, tmp_path, scripted_llm):
    # it lacks the task's key option, so the generator sends it back once; but it meets the task's checks
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "counter.v").write_text(COUNTER_V)
    task = {**GOOD, "id": "p1", "task": "Synthesize the counter flattened, then do a purging clean-up so that "
            "redundant internal net names (nets that are only aliases of other nets) are dropped, and write the "
            "netlist to <out>/c.v", "checks": [{"type": "file_exists", "path": "<out>/c.v"}],
            "reference": "yosys read_verilog rtl/counter.v\nyosys synth -flatten -top counter\n"
                         "yosys opt_clean -purge\nyosys write_verilog <out>/c.v\n"}
    f = tmp_path / "tasks.jsonl"
    f.write_text(json.dumps(task) + "\n")
    plain = answer_block("yosys read_verilog rtl/counter.v\nyosys synth -flatten -top counter\n"
                         "yosys write_verilog out/c.v")
    broken = plain.replace("yosys write_verilog", "yosys frobnicate_netlist\nyosys write_verilog")
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data"))
    bot.llm = scripted_llm([])
    rep = write_sft_rows(bot, [f], tmp_path / "sft.jsonl", repairs={"p1": [plain, broken]})
    rows = [json.loads(ln) for ln in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["p1", "p1/repair1"] and rep["repair_rows"] == 1
    assert "frobnicate_netlist" in rows[1]["messages"][-3]["content"]


def test_a_task_id_in_two_files_is_an_error(yosys, tasks_file, tmp_path, scripted_llm):
    other = tmp_path / "more" / "tasks.jsonl"
    other.parent.mkdir()
    (other.parent / "rtl").symlink_to(tasks_file.parent / "rtl")
    other.write_text(json.dumps(GOOD) + "\n")
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data"))
    bot.llm = scripted_llm([])
    with pytest.raises(ValueError, match=r"task id 'c1' is in both .*tasks\.jsonl and .*more/tasks\.jsonl"):
        write_sft_rows(bot, [tasks_file, other], tmp_path / "sft.jsonl")


def test_the_sft_data_command_writes_rows_for_the_configured_model(yosys, tasks_file, tmp_path, smol_gguf):
    """`chipassist tcl sft-data` with a real model's tokenizer (SmolLM2 through llama.cpp; it is never asked):
    rows, repair rows from a bench record, the excluded task, and exit 2 naming a missing file."""
    from typer.testing import CliRunner

    from assistant.cli import app
    config = tmp_path / "chipassist.yaml"
    config.write_text(f"llm:\n  backend: llamacpp\n  model_path: {smol_gguf}\n  context_tokens: 2048\n")
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"task": "c1", "references": False, "calls": [
        {"answer": "```tcl\nyosys read_verilog rtl/counter.v\nyosys frobnicate_netlist\n```"}]}) + "\n")
    out = tmp_path / "rows" / "sft.jsonl"
    runner = CliRunner()
    res = runner.invoke(app, ["tcl", "sft-data", str(tasks_file), "--out", str(out), "--exclude", "c3, c9",
                              "--repairs", str(records), "--config", str(config),
                              "--index", str(tmp_path / "no_index")])
    assert res.exit_code == 0, res.output
    assert [json.loads(ln)["id"] for ln in out.read_text().splitlines()] == ["c1", "c1/repair1"]
    assert "2 rows" in res.output and "(1 repair rows)" in res.output and "skipped c3" in res.output
    assert "sft.block_size must hold them" in res.output
    res = runner.invoke(app, ["tcl", "sft-data", str(tasks_file), "--out", str(out), "--repairs",
                              str(tmp_path / "gone.jsonl"), "--config", str(config)])
    assert res.exit_code == 2 and "gone.jsonl" in res.output and "file not found" in res.output


def test_the_committed_bench_records_hold_training_tasks_only():
    """bench/data/tcl_records: the base model's answers that round 2's repair rows come from. A record of a
    test-set task (y195-y224) would put its failing scripts, and the repair answered by its reference, into
    training."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    records = sorted((root / "bench" / "data" / "tcl_records").glob("*.jsonl"))
    answers = recorded_answers(records)
    train = {str(t["id"]) for f in (root / "corpora/sample/eval/tcl_tasks.jsonl",
                                    root / "bench/data/tcl_tasks_heldout.jsonl") for t in load_tasks(f)}
    test = {str(t["id"]) for t in load_tasks(root / "bench/data/tcl_tasks_sft_test.jsonl")}
    assert len(records) >= 2 and len(answers) > 100
    assert set(answers) <= train and not set(answers) & test


def test_the_site_library_is_left_out_of_the_rows(yosys, tasks_file, tmp_path, scripted_llm):
    """The tasks trained on are usually in the library too: a row showing its own reference teaches copying."""
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data",
                                  tcl={"library": [str(tasks_file)]}))
    bot.llm = scripted_llm([])
    settings = bot.settings
    rep = write_sft_rows(bot, [tasks_file], tmp_path / "sft.jsonl", exclude={"c3"})
    prompt = json.loads((tmp_path / "sft.jsonl").read_text().splitlines()[0])["messages"][-2]["content"]
    # shown, the library's recipes for these tasks would be the closest examples: "# synthesize counter ..."
    assert rep["library"] == "left out" and "# synthesize counter" not in prompt
    assert bot.settings is settings and settings.tcl.library == [tasks_file]  # put back, never changed
    # the control: the generator itself does show them
    llm = scripted_llm([answer_block(GOOD["reference"])])
    bot.llm = llm
    (tmp_path / "x" / "out").mkdir(parents=True)
    bot.tcl_generate("synthesize counter and write the netlist to out/counter_syn.v", rounds=0, references=False,
                     design=[tasks_file.parent / "rtl", tmp_path / "x" / "out"])
    assert "# synthesize counter" in llm.prompts[0][-1]["content"]
