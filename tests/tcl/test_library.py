"""The site's script library (``tcl.library``): checked tasks become recipes that still pass their own checks
when filled in again, what cannot be one is reported by task, and the generator shows the closest one for the
user's own design."""
import json
from pathlib import Path

import pytest

from assistant.tcl.cookbook import library_recipes, load_cookbook, recipe_from_task
from assistant.tcl.design import DesignView, read_line
from assistant.tcl.tasks import evaluate_task, load_tasks

ROOT = Path(__file__).resolve().parents[2]
DEV_TASKS = ROOT / "corpora" / "sample" / "eval" / "tcl_tasks.jsonl"


def test_a_task_becomes_a_recipe_of_the_users_design():
    task = {"id": "t1", "top": "top", "task": "Synthesize top and write it to <out>/top.json.",
            "reference": "yosys read_verilog -sv rtl/a.sv rtl/top.v\nyosys read_verilog rtl/b.v\n"
                         "yosys read_verilog -lib cells.v\nyosys synth -top top\nyosys write_json <out>/top.json\n"
                         "foreach f {rtl/x.v} {\n    yosys read_verilog $f\n}\n"}
    recipe = recipe_from_task(task)
    assert recipe.task == "Synthesize {top} and write it to {top}.json."
    # one {read} for the plain reads; a read with an option, or inside a loop, stays; `-top` and paths are not
    # the module name
    assert recipe.script == ("{read}\nyosys read_verilog -lib cells.v\nyosys synth -top {top}\n"
                             "yosys write_json {top}.json\nforeach f {rtl/x.v} {\n    yosys read_verilog $f\n}")
    script = recipe.render("yosys read_verilog dma.v", "dma", "dma_ch")
    assert script.startswith("yosys read_verilog dma.v\nyosys read_verilog -lib cells.v\nyosys synth -top dma\n")
    assert recipe.render_task("dma") == "Synthesize dma and write it to dma.json."


def test_tasks_that_cannot_be_recipes_are_skipped_and_reported(tmp_path):
    tasks = tmp_path / "lib.jsonl"
    rows = [{"id": "ok", "top": "u", "task": "Synthesize u", "reference": "yosys synth -top u\n"},
            {"id": "noref", "top": "u", "task": "Synthesize u"},
            {"id": "nodesign", "top": "u", "task": "Print the help", "reference": "yosys help\n"},
            {"id": "sta", "tool": "openroad", "top": "u", "task": "Report timing", "reference": "report_checks\n"}]
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipes, skipped = library_recipes(tasks)
    assert [r.script for r in recipes] == ["yosys synth -top {top}"]
    assert skipped[0] == f"{tasks}: noref: no reference script"
    assert skipped[1].startswith(f"{tasks}: nodesign: Value error, a recipe must use the user's design")
    assert len(skipped) == 2  # another tool's task is not this tool's recipe, nor a problem
    yaml_lib = tmp_path / "lib.yaml"
    yaml_lib.write_text("recipes:\n  - task: Count the cells\n    script: |\n      {read}\n      yosys stat\n")
    assert library_recipes(yaml_lib)[0][0].task == "Count the cells"


def test_shipped_tasks_as_recipes_still_pass_their_checks_on_their_design(yosys):
    """The templating loses nothing: each dev task's recipe, filled in with its own design's read line and top,
    passes the task's own checks under the real yosys."""
    tasks = load_tasks(DEV_TASKS)
    recipes, skipped = library_recipes(DEV_TASKS)
    assert skipped == [] and len(recipes) == len(tasks)
    for task, recipe in zip(tasks, recipes):
        script = recipe.render(read_line("yosys", task["design"]), task["top"], task["top"])
        # the recipe names bare files; the task's own names are `<out>/...`, as the fix-its would give them
        for name in {w for w in task["reference"].split() if w.startswith("<out>/")}:
            script = script.replace(f" {name.removeprefix('<out>/')}", f" {name}")
        ok, why = evaluate_task(task, script, DEV_TASKS.parent.parent)
        assert ok, (task["id"], script, why)


def test_the_generator_shows_the_closest_library_task_for_the_users_design(yosys, tmp_path):
    from assistant.tcl.prompt import examples_for

    lib = tmp_path / "team_scripts.jsonl"
    lib.write_text(json.dumps({
        "id": "team-7", "top": "uart", "design": ["rtl/uart.v"],
        "task": "Write the uart as an Intersil-style EDIF netlist with power pins to <out>/uart.edf",
        "reference": "yosys read_verilog rtl/uart.v\nyosys synth -top uart\n"
                     "yosys write_edif -pvector bra -attrprop <out>/uart.edf\n"}) + "\n")
    (tmp_path / "dma.v").write_text("module dma(input clk, output q);\nassign q = clk;\nendmodule\n")
    task = "Write dma as an EDIF netlist with power pins to out/dma.edf"
    view = DesignView.of([tmp_path / "dma.v"], task)
    assert not any("-attrprop" in s for _, s in examples_for("yosys", task, view))  # not in the cookbook
    shown = examples_for("yosys", task, view, library=(lib,))
    first_task, first_script = shown[0]
    assert first_task.startswith("Write the dma as an Intersil-style EDIF")
    assert first_script == ("yosys read_verilog dma.v\nyosys synth -top dma\n"
                            "yosys write_edif -pvector bra -attrprop out/dma.edf\n")
    assert len(load_cookbook("yosys", library=(lib,)).recipes) == len(load_cookbook("yosys").recipes) + 1


def test_a_missing_library_file_is_a_config_error_naming_it(tmp_path):
    from assistant.config import load_settings
    from corpora.config_io import ConfigError

    with pytest.raises(ConfigError) as e:
        load_settings(tcl={"library": [str(tmp_path / "gone.jsonl")]})
    assert "gone.jsonl" in str(e.value) and "tcl.library" in str(e.value)


def test_the_library_can_come_from_the_environment(tmp_path, monkeypatch):
    import os

    from assistant.config import load_settings

    a, b = tmp_path / "a.jsonl", tmp_path / "b.yaml"
    a.touch(), b.touch()
    monkeypatch.setenv("CHIPASSIST_TCL_LIBRARY", f"{a}{os.pathsep}{b}")
    assert load_settings().tcl.library == [a, b]
