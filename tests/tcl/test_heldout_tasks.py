"""The Tcl generation tasks: the sample set (corpora/sample/eval/tcl_tasks.jsonl), the team's held-out set
(bench/data/tcl_tasks_heldout.jsonl), the SFT model's test set (bench/data/tcl_tasks_sft_test.jsonl, never
in its training rows) and the second and third test sets (bench/data/tcl_tasks_test2.jsonl, y225-y254;
bench/data/tcl_tasks_test3.jsonl, y255-y284), judged by the bench's own evaluation
(assistant.tcl.tasks.evaluate_task: all three check levels in the sandbox, then the task's checks of the result).

Every reference must pass (a failing reference would count against every model), and the checks must
reject a plausible wrong script (else a pass rate says nothing). The whole run takes about a minute of
yosys, so it is `slow`; the default tier runs a fast subset covering each kind of check.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.tcl_bench import HELDOUT, TASKS, design_root, evaluate_task, load_tasks

CHECK_TYPES = {"file_exists", "file_contains", "log_contains", "log_matches"}
SFT_TEST = Path(HELDOUT).with_name("tcl_tasks_sft_test.jsonl")  # a sixth writer's; measures the SFT model
TEST2 = Path(HELDOUT).with_name("tcl_tasks_test2.jsonl")  # a seventh writer's, written after the output kinds
TEST3 = Path(HELDOUT).with_name("tcl_tasks_test3.jsonl")  # an eighth writer's, in a fixed mix of difficulty
SAMPLE_TASKS, HELDOUT_TASKS, SFT_TEST_TASKS = load_tasks(TASKS), load_tasks(HELDOUT), load_tasks(SFT_TEST)
TEST2_TASKS, TEST3_TASKS = load_tasks(TEST2), load_tasks(TEST3)
# each test task's near miss, written with it: the checks must reject it
SFT_TEST_WRONG = json.loads(SFT_TEST.with_name("tcl_tasks_sft_test_wrong.json").read_text())
TEST2_WRONG = json.loads(TEST2.with_name("tcl_tasks_test2_wrong.json").read_text())
TEST3_WRONG = json.loads(TEST3.with_name("tcl_tasks_test3_wrong.json").read_text())
ALL = [pytest.param(f, t, id=t["id"])
       for f, tasks in ((TASKS, SAMPLE_TASKS), (HELDOUT, HELDOUT_TASKS), (SFT_TEST, SFT_TEST_TASKS),
                        (TEST2, TEST2_TASKS), (TEST3, TEST3_TASKS)) for t in tasks]
# quick ones (< 0.5 s each) that between them use every check type, a regex, a Tcl loop and -sv
FAST = {"tcl03", "y09", "y17", "y22", "y31", "y40", "y48", "y62", "y71", "y73", "y88", "y103"}


def _heldout(task_id: str) -> dict:
    return next(t for t in HELDOUT_TASKS if t["id"] == task_id)


def test_heldout_tasks_are_well_formed():
    ids = [t["id"] for t in HELDOUT_TASKS + SFT_TEST_TASKS + TEST2_TASKS + TEST3_TASKS]
    assert len(ids) >= 32 and len(set(ids)) == len(ids) and ids == [f"y{n:02d}" for n in range(1, len(ids) + 1)]
    assert not set(ids) & {t["id"] for t in SAMPLE_TASKS}
    assert set(SFT_TEST_WRONG) == {t["id"] for t in SFT_TEST_TASKS}
    assert set(TEST2_WRONG) == {t["id"] for t in TEST2_TASKS}
    assert set(TEST3_WRONG) == {t["id"] for t in TEST3_TASKS}
    root = design_root(HELDOUT, HELDOUT_TASKS)
    for t in HELDOUT_TASKS + SFT_TEST_TASKS + TEST2_TASKS + TEST3_TASKS:
        assert t["task"] and t["reference"] and t["top"] and t["checks"], t["id"]
        assert all((root / d).is_file() for d in t["design"]), t["id"]
        for check in t["checks"]:
            assert check["type"] in CHECK_TYPES, t["id"]
            if "pattern" in check:
                re.compile(check["pattern"])
            if check["type"].startswith("file"):  # the engineer names the file the script must write
                assert check["path"].startswith("<out>/"), t["id"]
                assert check["path"] in t["task"] or "<out>/<" in t["task"], t["id"]
    # not every task is judged by the same stat line: the checks look at many different results
    assert len({json.dumps(c, sort_keys=True) for t in HELDOUT_TASKS for c in t["checks"]}) >= 60


def _run(tasks_file, task, script=None) -> tuple[bool, str]:
    return evaluate_task(task, task["reference"] if script is None else script, design_root(tasks_file, [task]))


@pytest.mark.parametrize("tasks_file,task", [p for p in ALL if p.id in FAST])
def test_fast_subset_references_pass(yosys, tasks_file, task):
    ok, why = _run(tasks_file, task)
    assert ok, f"{task['id']}: {why}"


WRONG = {  # task id -> a plausible script that misses what was asked
    "y22": "yosys read_verilog rtl/uart_tx.v\nyosys synth -top uart_tx\nyosys write_rtlil <out>/uart_tx_coarse.il\n",
    "y31": "yosys read_verilog rtl/uart_tx.v\nyosys synth -top uart_tx\nyosys fsm_export -o <out>/uart_tx.kiss2\n",
    "y40": "yosys read_verilog -sv rtl/pico_pkg.sv rtl/pico_irq_sync.sv\nyosys synth -top pico_irq_sync\n"
           "yosys write_verilog -noattr <out>/pico_irq_sync_rtl.v\n",
    # y45-y64 (written after the cookbook's advanced recipes): the checks see what was left out
    "y47": "yosys read_verilog rtl/dma.v\nyosys synth -top dma\nyosys tee -o <out>/dma_gates.txt stat\n",
    "y48": "yosys read_verilog rtl/dma.v\nyosys synth -top dma\nyosys write_verilog -noattr <out>/dma_sync.v\n",
    "y60": "yosys read_verilog rtl/timer.v\nyosys synth -top timer\nyosys write_verilog -noattr <out>/timer_gates.v\n",
    "y64": "yosys read_verilog rtl/uart_tx.v\nyosys synth -top uart_tx\nyosys show -format dot -prefix <out>/uart_tx_sch "
           "uart_tx\n",
    # y65-y84 (written by a task writer who had not read the cookbook or the fix-its)
    "y66": "yosys read_verilog rtl/cru.v\nyosys synth -flatten -top cru\nyosys write_blif <out>/cru_flat.blif\n",
    "y73": "yosys read_verilog rtl/uart_tx.v rtl/uart_rx.v rtl/uart.v\nyosys synth -top uart\n"
           "yosys tee -q -o <out>/uart_stat.json stat\n",
    "y77": "yosys read_verilog rtl/uart_tx.v rtl/uart_rx.v rtl/uart.v\nyosys synth -flatten -top uart\n"
           "yosys opt_clean\nyosys write_verilog -noattr <out>/uart_purged.v\n",
    "y79": "yosys read_verilog rtl/dma.v\nyosys synth -top dma\nyosys splitnets -ports\n"
           "yosys write_verilog -noattr <out>/dma_maddr_bits.v\n",
    # y85-y114 (written by a second independent task writer)
    "y88": "yosys read_verilog rtl/dma.v\nyosys hierarchy -top dma\nyosys select -write <out>/dma_outputs.txt dma/x:*\n",
    "y94": "yosys read_verilog rtl/cru.v\nyosys synth -top cru\nyosys write_verilog -noattr <out>/cru_icg.v\n",
    "y97": "yosys read_verilog rtl/timer.v\nyosys synth -top timer\nyosys write_verilog -noattr <out>/timer_apb.v\n",
    "y106": "yosys read_verilog rtl/uart.v rtl/uart_tx.v rtl/uart_rx.v\nyosys synth -flatten -top uart\n"
            "yosys write_verilog -noattr <out>/uart_tie.v\n",
    "y113": "yosys read_verilog rtl/dma.v\nyosys synth -lut 4 -top dma\nyosys write_blif <out>/dma_vpr.blif\n",
    # y115-y134 (written by a third independent task writer)
    "y127": "yosys read_verilog rtl/uart.v rtl/uart_tx.v rtl/uart_rx.v\nyosys synth -top uart\n"
            "foreach m {uart uart_tx uart_rx} {\n    yosys rename $m p0_$m\n}\nyosys write_verilog -noattr <out>/p0_uart.v\n",
    "y129": "yosys read_verilog rtl/cru.v\nyosys synth -top cru\nyosys write_verilog -noattr <out>/cru_unique.v\n",
    "y131": "yosys read_verilog rtl/dma.v\nyosys synth -top dma\nyosys select -write <out>/dma_reg_outputs.txt dma/o:*\n",
    # y135-y164 (a fourth independent writer)
    "y147": "yosys read_verilog rtl/pico_top.v rtl/cru.v rtl/dma.v rtl/uart.v rtl/uart_tx.v rtl/uart_rx.v rtl/timer.v\n"
            "yosys synth -top pico_top\nyosys write_verilog <out>/pico_top_flat.v\n",
    "y152": "yosys read_verilog rtl/dma.v\nyosys synth -top dma\nyosys write_verilog <out>/dma_noattr.v\n",
    "y155": "yosys read_verilog rtl/uart_tx.v\nyosys synth -top uart_tx\nyosys tee -o <out>/uart_tx_transistors.txt stat\n",
    "y158": "yosys read_verilog rtl/uart_tx.v\nyosys prep -top uart_tx\nyosys async2sync\n"
            "yosys write_btor <out>/uart_tx.btor\n",
    # y165-y194 (a fifth independent writer)
    "y167": "yosys read_verilog rtl/cru.v\nyosys hierarchy -check -top cru\nyosys write_rtlil <out>/cru.il\n",
    "y176": "yosys read_verilog rtl/uart.v rtl/uart_tx.v rtl/uart_rx.v\nyosys synth -top uart\n"
            "yosys write_verilog -noattr <out>/uart_flat.v\n",
    "y180": "yosys read_verilog rtl/dma.v\nyosys synth -top dma -lut 4\nyosys tee -o <out>/dma_lut6.txt stat -width\n",
    "y183": "yosys read_verilog rtl/uart_tx.v\nyosys synth -top uart_tx\nyosys write_verilog <out>/uart_tx_v2.v\n",
}


@pytest.mark.parametrize("task_id", sorted(WRONG))
def test_checks_reject_a_wrong_script(yosys, task_id):
    ok, why = _run(HELDOUT, _heldout(task_id), WRONG[task_id])
    assert not ok and why, task_id


@pytest.mark.slow
@pytest.mark.parametrize("tasks_file,task,wrong", [
    pytest.param(f, t, wrong[t["id"]], id=t["id"])
    for f, tasks, wrong in ((SFT_TEST, SFT_TEST_TASKS, SFT_TEST_WRONG), (TEST2, TEST2_TASKS, TEST2_WRONG),
                            (TEST3, TEST3_TASKS, TEST3_WRONG)) for t in tasks])
def test_checks_reject_each_test_tasks_near_miss(yosys, tasks_file, task, wrong):
    ok, why = _run(tasks_file, task, wrong)
    assert not ok and why, task["id"]


@pytest.mark.slow
@pytest.mark.parametrize("tasks_file,task", ALL)
def test_every_reference_passes(yosys, tasks_file, task):
    ok, why = _run(tasks_file, task)
    assert ok, f"{task['id']}: {why}"


# References the fix-its once broke (a module the script makes, a working file it reads back), and a few more.
SURVIVORS = {"tcl07", "y39", "y67", "y101", "y112", "y161"} | FAST


def _survives(tasks_file, task):
    from assistant.tcl.commands import get_db
    from assistant.tcl.design import DesignView
    from assistant.tcl.generate import fix_script

    root = design_root(tasks_file, [task])
    text = task["task"].replace("<out>", "out")
    script = task["reference"].replace("<out>", "out")
    fixed, fixes, _ = fix_script(script, text, "yosys", DesignView.of([root / "rtl"], text), get_db("yosys"))
    ok, why = _run(tasks_file, task, fixed.replace("out/", "<out>/"))
    assert ok, f"{task['id']}: the fix-its {fixes} broke the reference: {why}"


@pytest.mark.parametrize("tasks_file,task", [p for p in ALL if p.id in SURVIVORS])
def test_the_fixits_keep_a_correct_script_correct(yosys, tasks_file, task):
    _survives(tasks_file, task)


@pytest.mark.slow
@pytest.mark.parametrize("tasks_file,task", ALL)
def test_the_fixits_keep_every_reference_correct(yosys, tasks_file, task):
    _survives(tasks_file, task)


def _no_wrong_kind(tasks_file, task):
    import tempfile

    from assistant.tcl.check import check_script
    from assistant.tcl.fixits import task_paths
    from assistant.tcl.outputs import expected_kinds, wrong_outputs
    from assistant.tcl.tasks import OUT_DIR, out_paths, task_designs

    root, text = design_root(tasks_file, [task]), out_paths(task["task"])
    kinds = expected_kinds(text, task_paths(text))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "empty" / OUT_DIR
        out.mkdir(parents=True)
        check = check_script(out_paths(task["reference"]), design=task_designs(task, root) + [out],
                             artifacts_dir=Path(tmp) / "kept")
        assert check.ok and wrong_outputs(Path(tmp) / "kept", kinds) == [], task["id"]


@pytest.mark.parametrize("tasks_file,task", [p for p in ALL if p.id in SURVIVORS])
def test_a_correct_scripts_files_hold_what_the_task_asks(yosys, tasks_file, task):
    """The loop sends back a file holding another kind of output than the task's words ask for
    (assistant.tcl.outputs): never a reference's."""
    _no_wrong_kind(tasks_file, task)


@pytest.mark.slow
@pytest.mark.parametrize("tasks_file,task", ALL)
def test_no_references_file_is_judged_the_wrong_kind(yosys, tasks_file, task):
    _no_wrong_kind(tasks_file, task)
