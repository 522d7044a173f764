"""The yosys cookbook: every recipe runs clean on real RTL, search finds the recipe a task asks for, and a bad
cookbook file is reported by name."""
from pathlib import Path

import pytest

from assistant.tcl.check import check_script
from assistant.tcl.commands import get_db
from assistant.tcl.cookbook import Cookbook, load_cookbook, stem
from assistant.tcl.lint import lint_script
from corpora.config_io import ConfigError

SAMPLE_RTL = Path(__file__).resolve().parents[2] / "corpora" / "sample" / "rtl"
UART = ("yosys read_verilog rtl/uart.v rtl/uart_tx.v rtl/uart_rx.v", "uart", "uart_tx")
SV = ("yosys read_verilog -sv rtl/pico_pkg.sv rtl/pico_irq_sync.sv", "pico_irq_sync", "pico_irq_sync")


@pytest.mark.parametrize("recipe", load_cookbook("yosys").recipes, ids=lambda r: r.task[:40])
def test_every_recipe_passes_all_check_levels_on_the_sample_rtl(yosys, recipe):
    script = recipe.render(*(SV if "SystemVerilog" in recipe.task else UART))
    assert "{" + "read}" not in script and "{top}" not in script
    result = check_script(script, tool="yosys", design=[SAMPLE_RTL])
    assert result.ok, (script, result.lint, result.syntax, result.run.errors)


@pytest.mark.parametrize("task, expected", [
    ("Synthesize the cru flattened and write it to out/cru.v", "Synthesize flattened"),
    ("write a BLIF of the DMA", "BLIF"),
    ("how deep is the logic of the timer? longest path please", "longest combinational path"),
    ("lint uart_rx and stop if there are problems", "Lint the design"),
    ("synthesize timer for 6-input LUTs", "k-input LUTs"),
])
def test_search_finds_the_recipe_a_task_asks_for(task, expected):
    assert expected in load_cookbook("yosys").search(task, n=1)[0].task


def test_render_keeps_tcl_braces_and_fills_placeholders():
    recipe = next(r for r in load_cookbook("yosys").recipes if "Tcl proc" in r.task)
    script = recipe.render(*UART)
    assert "proc synth_one {module} {" in script and "foreach m {uart_tx uart} {" in script


def test_stem_folds_inflections_but_not_options():
    assert stem("flattened") == stem("flatten") and stem("attributes") == stem("attribute")
    assert stem("-noattr") == "-noattr" and stem("lut4") == "lut4"


def test_a_bad_cookbook_is_reported_with_file_and_field(tmp_path):
    bad = tmp_path / "book.yaml"
    bad.write_text("recipes:\n  - task: Synthesize it\n    script: yosys synth\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_cookbook("yosys", bad)
    assert "book.yaml" in str(e.value) and "recipes.0.script" in str(e.value)
    assert load_cookbook("no_such_tool") is None
    with pytest.raises(ValueError):
        Cookbook(recipes=[])


def test_lint_accepts_glued_define_and_checks_equiv_opt_as_a_wrapper(yosys):
    db = get_db("yosys")
    ok = "yosys verilog_defines -DSYNTHESIS\nyosys read_verilog -DWIDTH=8 -Iinclude a.v\n"
    assert lint_script(ok, db) == []
    issues = lint_script("yosys equiv_opt -assert opt -fulll\n", db)
    assert [(i.command, i.option) for i in issues] == [("opt", "-fulll")]


def test_task_fixits_write_the_files_the_task_names_and_read_sv_as_sv():
    from assistant.tcl.fixits import task_fixits, task_paths

    task = "Synthesize dma and save the netlist as JSON in out/dma.json and the area report to out/dma_area.rpt"
    task += "; then one per module as out/<module>.v"
    assert task_paths(task) == ["out/dma.json", "out/dma_area.rpt", "out/${module}.v"]
    script = ("yosys read_verilog rtl/pkg.sv rtl/dma.sv\nyosys synth -top dma\nyosys write_json dma.json\n"
              "yosys tee -o stat.txt stat\nyosys write_verilog -noattr $m.v\n"
              "foreach module {a b} {\n  yosys write_verilog ${module}_synth.v\n}\n")
    fixed, fixes = task_fixits(script, "yosys", task_paths(task))
    assert "yosys write_json out/dma.json\n" in fixed and "yosys tee -o out/dma_area.rpt stat" in fixed
    # a pattern goes to the line writing with the same variable only
    assert "yosys write_verilog out/${module}.v" in fixed and "yosys write_verilog -noattr $m.v" in fixed
    assert fixed.startswith("yosys read_verilog -sv rtl/pkg.sv") and len(fixes) == 4
    # two files of one kind: which is which is the model's call, not a fix-it's
    two = "write the netlist to out/a.v and the flat one to out/b.v"
    assert task_fixits("yosys write_verilog x.v\n", "yosys", task_paths(two)) == ("yosys write_verilog x.v\n", [])
    # the two spellings of one format are one kind of file: `cru.edif` is the task's `out/cru.edf`
    fixed, _ = task_fixits("yosys write_edif cru.edif\nyosys write_rtlil cru.rtlil\n", "yosys",
                           task_paths("write out/cru.edf and out/cru.il"))
    assert fixed == "yosys write_edif out/cru.edf\nyosys write_rtlil out/cru.il\n"


def test_examples_in_the_prompt_write_the_tasks_files(yosys, tmp_path):
    from assistant.tcl.design import DesignView
    from assistant.tcl.prompt import examples_for as _examples

    (tmp_path / "dma.v").write_text("module dma(input clk, output q);\nassign q = clk;\nendmodule\n")
    task = "Synthesize dma and save the netlist as JSON in out/dma.json"
    examples = _examples("yosys", task, DesignView.of([tmp_path / "dma.v"], task))
    assert "yosys write_json out/dma.json" in examples[0][1]


def test_task_fixits_for_writers_without_a_file_reports_and_elaboration_only(yosys):
    from assistant.tcl.commands import get_db
    from assistant.tcl.fixits import apply_fixits, task_fixits, task_paths

    db = get_db("yosys")

    def fixed(script, task):
        return task_fixits(script, "yosys", task_paths(task), task, db)[0]
    # a writer given a file without a suffix, or none, writes the task's file of its format
    assert fixed("yosys write_btor -v top\n", "export it as BTOR2 to out/u.btor") == "yosys write_btor -v out/u.btor\n"
    assert fixed("yosys write_verilog -noattr\n", "write out/u.v") == "yosys write_verilog -noattr out/u.v\n"
    # ... but not the value of an option that takes one, nor when two files of the format are named
    assert fixed("yosys write_spice -pos vdd\n", "write out/u.sp") == "yosys write_spice -pos vdd\n"
    assert fixed("yosys write_verilog\n", "write out/a.v and out/b.v") == "yosys write_verilog\n"
    # a shell redirect becomes tee; a report the script never names goes to the last report pass
    assert fixed("yosys stat -width > out/s.txt\n", "stats to out/s.txt") == "yosys tee -o out/s.txt stat -width\n"
    assert fixed("yosys synth -top u\nyosys stat\nyosys check\n", "check u, report in out/c.rpt") == \
        "yosys synth -top u\nyosys stat\nyosys tee -o out/c.rpt check\n"
    # a report shown with options and then written bare is written with them
    assert fixed("yosys stat -tech cmos\nyosys tee -o out/t.txt stat\n", "CMOS estimate in out/t.txt") == \
        "yosys stat -tech cmos\nyosys tee -o out/t.txt stat -tech cmos\n"
    # "without synthesizing" means elaboration; a task that also asks to synthesize keeps its synth
    assert fixed("yosys read_verilog a.v\nyosys synth -flatten -top u\n", "elaborate u without synthesizing it") == \
        "yosys read_verilog a.v\nyosys hierarchy -check -top u\nyosys proc\nyosys flatten\n"
    keep = "Synthesize u keeping its hierarchy, with g a black box: not defined and not synthesized"
    assert fixed("yosys synth -top u\n", keep) == "yosys synth -top u\n"
    # `-top` on a pass that has none is dropped; a working file the script reads back keeps its name
    assert apply_fixits("yosys flatten -top u\n", db)[0] == "yosys flatten\n"
    work = "yosys tee -q -o cnt.txt stat\nset f [open cnt.txt r]\n"
    assert fixed(work, "write the count to out/n.txt") == work


def test_task_fixits_name_tcl_files_fix_glued_variables_and_wrap_the_pass_a_report_is_named_after(yosys):
    from assistant.tcl.commands import get_db
    from assistant.tcl.fixits import task_fixits, task_paths

    def fixed(script, task):
        return task_fixits(script, "yosys", task_paths(task), task, get_db("yosys"))[0]
    # a CSV the script writes itself in Tcl is written where the task said
    assert fixed("set csv [open cells.csv w]\nputs $csv x\nclose $csv\n", "the counts as CSV in out/cells.csv") \
        == "set csv [open out/cells.csv w]\nputs $csv x\nclose $csv\n"
    # `$m_syn` where only `m` is set: Tcl would read the variable `m_syn`
    loop = "foreach m {a b} {\n    yosys write_verilog out/$m_syn.v\n}\n"
    assert fixed(loop, "netlists to out/<m>_syn.v") == "foreach m {a b} {\n    yosys write_verilog out/${m}_syn.v\n}\n"
    # only in the file a line writes, and only where the longer name is not set some other way
    kept = ("set top c\ncatch {foo} top_err\nlassign {x y} m_in m_out\nset m 1\nyosys write_verilog $m_in.v\n"
            "yosys write_verilog $top_err.v\nyosys select -list {t:$m_v2}\n")
    assert fixed(kept, "write out/a.v") == kept  # a target with a variable is not renamed either
    assert fixed(kept, "no files") == kept
    # out/hierarchy.txt is the `hierarchy` pass's output, not the last report pass's
    script = "yosys read_verilog a.v\nyosys hierarchy -check -top u\nyosys stat\n"
    assert fixed(script, "check the hierarchy and capture its output in out/hierarchy.txt") == \
        "yosys read_verilog a.v\nyosys tee -o out/hierarchy.txt hierarchy -check -top u\nyosys stat\n"
