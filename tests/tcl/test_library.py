"""The site's script library (``tcl.library``): checked tasks become recipes that still pass their own checks
when filled in again, what cannot be one is reported by task, secrets are scrubbed, an edited file is read
again, a broken one does not stop generation, and the generator shows the closest one for the user's design."""
import json
import os
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.service import Assistant
from assistant.tcl.cookbook import load_cookbook
from assistant.tcl.design import DesignView, read_line
from assistant.tcl.library import library_recipes, recipe_from_task, site_cookbook
from assistant.tcl.tasks import evaluate_task, load_tasks

ROOT = Path(__file__).resolve().parents[2]
DEV_TASKS = ROOT / "corpora" / "sample" / "eval" / "tcl_tasks.jsonl"
HELDOUT = ROOT / "bench" / "data" / "tcl_tasks_heldout.jsonl"


def test_a_task_becomes_a_recipe_of_the_users_design():
    task = {"id": "t1", "top": "top", "task": "Synthesize top (the top-level) and write it to <out>/top.json.",
            "reference": "yosys read_verilog -sv rtl/a.sv rtl/top.v\nyosys read_verilog rtl/b.v\n"
                         "yosys read_verilog -lib cells.v\nyosys synth -top top\nyosys write_json <out>/top.json\n"
                         "foreach f {rtl/x.v} {\n    yosys read_verilog $f\n}\n"}
    recipe = recipe_from_task(task)
    assert recipe.task == "Synthesize {top} (the top-level) and write it to {top}.json."
    # one {read} for the block of plain reads; a read with an option, or inside a loop, stays; `-top` and
    # paths are not the module name
    assert recipe.script == ("{read}\nyosys read_verilog -lib cells.v\nyosys synth -top {top}\n"
                             "yosys write_json {top}.json\nforeach f {rtl/x.v} {\n    yosys read_verilog $f\n}")
    script = recipe.render("yosys read_verilog dma.v", "dma", "dma_ch")
    assert script.startswith("yosys read_verilog dma.v\nyosys read_verilog -lib cells.v\nyosys synth -top dma\n")
    assert recipe.render_task("dma") == "Synthesize dma (the top-level) and write it to dma.json."


def test_each_read_block_is_kept_and_a_written_file_read_back_is_not_the_design():
    # an equivalence recipe reads the design twice, around `design -stash`; a round trip reads its own output
    equiv = recipe_from_task({"id": "e", "top": "fsm", "task": "prove fsm equivalent", "reference":
                              "yosys read_verilog rtl/fsm.v\nyosys proc\nyosys fsm\nyosys design -stash gold\n"
                              "yosys read_verilog rtl/fsm.v\nyosys synth -top fsm\nyosys design -stash gate\n"})
    assert equiv.script == ("{read}\nyosys proc\nyosys fsm\nyosys design -stash gold\n{read}\n"
                            "yosys synth -top {top}\nyosys design -stash gate")  # `yosys fsm` is the pass
    trip = recipe_from_task({"id": "r", "top": "u", "task": "write u and read it back", "reference":
                             "yosys read_verilog rtl/u.v\nyosys synth -top u\nyosys write_verilog <out>/u_syn.v\n"
                             "yosys design -reset\nyosys read_verilog <out>/u_syn.v\nyosys stat\n"})
    assert trip.script.splitlines()[4] == "yosys read_verilog u_syn.v"


def test_tasks_that_cannot_be_recipes_are_skipped_and_reported(tmp_path):
    tasks = tmp_path / "lib.jsonl"
    rows = [{"id": "ok", "top": "u", "task": "Synthesize u", "reference": "yosys read_verilog u.v\nyosys synth\n"},
            {"id": "noref", "top": "u", "task": "Synthesize u"},
            {"id": "loop", "top": "u", "task": "Read each file", "reference":
             "foreach f {a.v b.v} {\n  yosys read_verilog rtl/$f\n}\nyosys synth -top u\n"},
            {"id": "short", "top": "u", "task": "Syn", "reference": "yosys read_verilog u.v\n"},
            {"id": "sta", "tool": "openroad", "top": "u", "task": "Report timing", "reference": "report_checks\n"}]
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipes, skipped = library_recipes(tasks)
    assert [r.script for r in recipes] == ["{read}\nyosys synth"]
    assert skipped[0] == f"{tasks}: noref: no reference script"
    assert skipped[1].startswith(f"{tasks}: loop: the reference never reads the design with a plain")
    assert skipped[2].startswith(f"{tasks}: short: String should have at least 5 characters")
    assert len(skipped) == 3  # another tool's task is not this tool's recipe, nor a problem
    yaml_lib = tmp_path / "lib.yaml"
    yaml_lib.write_text("recipes:\n  - task: Count the cells\n    script: |\n      {read}\n      yosys stat\n")
    assert library_recipes(yaml_lib)[0][0].task == "Count the cells"


def test_shipped_tasks_as_recipes_still_pass_their_checks_on_their_design(yosys):
    """The templating loses nothing: each dev task's recipe, and the held-out equivalence proofs that read the
    design twice, filled in with their own design's read line and top, pass the task's own checks under the
    real yosys; every recipe of the shipped task files reads the user's design."""
    tasks = load_tasks(DEV_TASKS) + [t for t in load_tasks(HELDOUT) if t["id"] in ("y39", "y54")]
    for task in tasks:
        try:
            recipe = recipe_from_task(task)
        except ValueError:  # reported by library_recipes (tested above)
            continue
        script = recipe.render(read_line("yosys", task["design"]), task["top"], task["top"])
        # the recipe names bare files; the task's own names are `<out>/...`, as the fix-its would give them
        for name in {w for w in task["reference"].split() if w.startswith("<out>/")}:
            script = script.replace(f" {name.removeprefix('<out>/')}", f" {name}")
        root = DEV_TASKS.parent.parent
        ok, why = evaluate_task(task, script, root)
        assert ok, (task["id"], script, why)
    recipes = library_recipes(DEV_TASKS)[0] + library_recipes(HELDOUT)[0]
    assert len(recipes) >= 180 and all("{read}" in r.script for r in recipes)


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
    first_task, first_script = examples_for("yosys", task, view, library=[lib])[0]
    assert first_task.startswith("Write the dma as an Intersil-style EDIF")
    assert first_script == ("yosys read_verilog dma.v\nyosys synth -top dma\n"
                            "yosys write_edif -pvector bra -attrprop out/dma.edf\n")
    assert len(site_cookbook("yosys", [lib]).recipes) == len(load_cookbook("yosys").recipes) + 1


def test_library_scripts_are_scrubbed_and_an_edited_file_is_read_again(tmp_path):
    lib = tmp_path / "lib.jsonl"

    def write(*scripts):
        lib.write_text("".join(json.dumps({"id": f"s{i}", "top": "u", "task": f"Synthesize u, variant {i}",
                                           "reference": s}) + "\n" for i, s in enumerate(scripts)))
    write("yosys read_verilog u.v\n# licence server key hunter2-licence-key-0042\nyosys synth -top u\n")
    [recipe] = library_recipes(lib, secrets=["hunter2-licence-key-0042"])[0]
    assert "hunter2" not in recipe.script and "[REDACTED:setting]" in recipe.script
    before = len(site_cookbook("yosys", [lib]).recipes)
    write("yosys read_verilog u.v\nyosys synth -top u\n", "yosys read_verilog u.v\nyosys stat -top u\n")
    os.utime(lib, ns=(lib.stat().st_atime_ns, lib.stat().st_mtime_ns + 1_000_000_000))
    assert len(site_cookbook("yosys", [lib]).recipes) == before + 1


def test_a_broken_library_falls_back_to_the_cookbook_and_says_so(yosys, design, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    bot = Assistant(load_settings(index_dir=tmp_path / "no_index", data_dir=tmp_path / "data",
                                  tcl={"library": [str(broken)]}))
    bot.llm = None
    gen = bot.tcl_generate("write a gate-level netlist of counter without attributes", design=design)
    assert any(s.chunk_id.startswith("cookbook:") for s in gen.sources)
    assert "tcl.library not used" in gen.message and "broken.jsonl" in gen.message


def test_a_missing_library_file_is_a_config_error_naming_it(tmp_path, monkeypatch):
    from corpora.config_io import ConfigError

    with pytest.raises(ConfigError) as e:
        load_settings(tcl={"library": [str(tmp_path / "gone.jsonl")]})
    assert "no such file" in str(e.value) and "gone.jsonl" in str(e.value)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.yaml"
    a.touch(), b.touch()
    monkeypatch.setenv("CHIPASSIST_TCL_LIBRARY", f"{a}{os.pathsep}{b}")  # separated like $PATH
    assert load_settings().tcl.library == [a, b]
    assert load_settings(tcl={"library": []}).tcl.library == []  # what a caller sets wins (the bench's baseline)
