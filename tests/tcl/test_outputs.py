"""What the task's files should hold (assistant.tcl.outputs): kinds from the task's words, real yosys output
recognised, wrong writers rewritten, missing writers added, and the loop sending a wrong file back."""
import subprocess

import pytest

from assistant.tcl.outputs import (content_kind, expected_kind, expected_kinds, missing_writers, wrong_kind,
                                   wrong_outputs, writer_fixits)

TASK = ("Target a Lattice iCE40: synthesize uart_tx, write the nextpnr-ready JSON to out/tx.json and the cell "
        "statistics to out/tx_ice40.txt; capture the hierarchy check in out/hierarchy.txt, the FSM dump in "
        "out/fsm_info.txt, the area numbers as JSON in out/area.json and a note in out/notes.txt.")


def test_the_kind_of_a_file_comes_from_its_suffix_name_and_words():
    assert expected_kind(TASK, "out/tx.json") == "json"  # JSON with no statistics words: a netlist
    assert expected_kind(TASK, "out/area.json") == "stat"  # "the area numbers as JSON": stat -json
    assert expected_kind(TASK, "out/tx_ice40.txt") == "stat"  # "the cell statistics to ..."
    assert expected_kind(TASK, "out/hierarchy.txt") == "hierarchy"
    assert expected_kind(TASK, "out/fsm_info.txt") == "fsm_info"
    assert expected_kind(TASK, "out/notes.txt") is None  # nothing says what a note holds
    assert expected_kind("save the stat report to out/x_stat.rpt", "out/x_stat.rpt") == "stat"
    assert expected_kind("write out/a.blif and out/a.kiss2", "out/a.kiss2") == "kiss2"
    # the words of another clause do not carry over: the statistics are the first file's
    assert expected_kind("write the statistics to out/s.txt, then the JSON netlist to out/n.json", "out/n.json") == "json"
    assert expected_kinds("write out/${m}.json and out/a.blif", ["out/${m}.json", "out/a.blif"]) == {"out/a.blif": "blif"}


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_dir, yosys):
    """Real yosys output of each kind, written from the sample UART."""
    root, design_dir = tmp_path_factory.mktemp("kinds"), sample_dir / "rtl"
    script = (f"read_verilog {design_dir}/uart_rx.v; hierarchy -top uart_rx; proc; opt -nodffe -nosdff; fsm -nomap; "
              "tee -q -o fsm_info.txt fsm_info; fsm_export -o rx.kiss2; design -reset; "
              f"read_verilog {design_dir}/uart_tx.v; tee -q -o hier.txt hierarchy -check -top uart_tx; "
              "synth -top uart_tx; tee -q -o stat.txt stat; tee -q -o stat.json stat -json; write_json n.json; "
              "write_blif n.blif; write_edif n.edif; write_rtlil n.il; write_verilog n.v; async2sync; dffunmap; write_smt2 n.smt2")
    subprocess.run([yosys, "-q", "-p", script], cwd=root, check=True, capture_output=True)
    return {p.name: p.read_text(errors="replace") for p in root.iterdir() if p.is_file()}


def test_real_yosys_output_is_recognised(made):
    assert {name: content_kind(text) for name, text in made.items()} == {
        "fsm_info.txt": "fsm_info", "rx.kiss2": "kiss2", "hier.txt": "hierarchy", "stat.txt": "stat",
        "stat.json": "stat", "n.json": "json", "n.blif": "blif", "n.edif": "edif", "n.il": "rtlil",
        "n.v": "verilog", "n.smt2": "smt2"}
    assert wrong_kind(made["n.v"], "stat") == "verilog"  # a netlist where the statistics belong
    assert wrong_kind(made["stat.json"], "json") == "stat"  # `stat -json` where a JSON netlist belongs
    assert wrong_kind(made["rx.kiss2"], "fsm_info") == "kiss2"
    assert wrong_kind(made["stat.txt"], "stat") is None and wrong_kind(made["n.il"], "rtlil") is None
    # a file written by hand (a CSV of counts) shows no kind: never judged wrong
    assert wrong_kind("module,cells\nuart_tx,123\n", "stat") is None


def test_wrong_outputs_name_the_file_and_the_line_that_writes_it(made, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "tx.json").write_text(made["stat.json"])
    (tmp_path / "out" / "tx_stat.txt").write_text(made["stat.txt"])
    found = wrong_outputs(tmp_path, {"out/tx.json": "json", "out/tx_stat.txt": "stat", "out/gone.blif": "blif"})
    assert found == ["out/tx.json holds a yosys stat report, not a yosys JSON netlist (write_json) as the task "
                     "asks: write it with `yosys write_json out/tx.json`"]


def test_a_line_writing_the_wrong_kind_gets_the_kinds_writer():
    kinds = {"out/tx.json": "json", "out/tx_stat.txt": "stat", "out/fsm_info.txt": "fsm_info", "out/a.v": "verilog"}
    script = ("yosys synth_ice40 -top uart_tx\nyosys tee -q -o out/tx.json stat -json\n"
              "yosys write_smt2 out/tx_stat.txt\nyosys fsm_export -o out/fsm_info.txt\nyosys tee -o out/a.v stat\n")
    fixed, fixes = writer_fixits(script, kinds)
    assert fixed.split("\n")[1:4] == ["yosys write_json out/tx.json", "yosys tee -o out/tx_stat.txt stat",
                                      "yosys tee -o out/fsm_info.txt fsm_info"]
    assert "yosys tee -o out/a.v stat" in fixed  # a Verilog netlist has no one certain writer: the model's to fix
    assert len(fixes) == 3 and "should hold a yosys JSON netlist" in fixes[0]
    right = "yosys tee -o out/tx_stat.txt stat -tech cmos\nyosys write_json out/tx.json\n"
    assert writer_fixits(right, kinds) == (right, [])


def test_a_file_the_script_never_writes_gets_its_writer_at_the_end():
    kinds = {"out/tx.blif": "blif", "out/s.json": "stat", "out/a.v": "verilog", "out/seen.txt": "stat"}
    script = "yosys read_verilog tx.v\nyosys synth -top tx\nset f [file join out seen.txt]\n"
    fixed, fixes = missing_writers(script, kinds)
    assert fixed.endswith("yosys write_blif out/tx.blif\nyosys tee -o out/s.json stat -json\n")
    assert "out/a.v" not in fixed and len(fixes) == 2  # no certain writer; `seen.txt` is the script's own


def test_what_the_words_do_not_say_is_left_alone():
    # whole words of the name count (equiv_check names `check`: harmless, one report never replaces another's);
    # statistics in the name win over a pass's name
    assert expected_kind("the equivalence report in out/equiv_check.txt", "out/equiv_check.txt") == "check"
    assert expected_kind("the FSM dump in out/myfsm_information.txt", "out/myfsm_information.txt") is None
    assert expected_kind("per-module cell statistics in out/hierarchy_stats.txt", "out/hierarchy_stats.txt") == "stat"
    # JSON only when the words say which: statistics, or a netlist; "area-optimized" is neither
    assert expected_kind("report the cell usage as JSON in out/cells.json", "out/cells.json") == "stat"
    assert expected_kind("write the area-optimized netlist as JSON to out/x.json", "out/x.json") == "json"
    assert expected_kind("dump the result to out/x.json", "out/x.json") is None
    # out/a.v is not found inside out/a.vcd
    assert expected_kind("write the stats to out/a.vcd and the netlist to out/a.v", "out/a.v") == "verilog"


def test_a_correct_script_is_not_rewritten():
    # one report in another report's file, and a file two lines write, stay as written
    hc = "yosys tee -o out/check.txt hierarchy -check -top cpu\n"
    assert writer_fixits(hc, {"out/check.txt": "check"}) == (hc, [])
    both = "yosys tee -o out/s_stat.txt check\nyosys tee -a out/s_stat.txt stat\n"
    assert writer_fixits(both, {"out/s_stat.txt": "stat"}) == (both, [])
    assert wrong_kind("8. Executing HIERARCHY pass (managing design hierarchy).\n", "check") is None
    # nothing is added to a script that writes through variables, or ends clearing the design; before `exit`
    kinds = {"out/cpu_pre.blif": "blif", "out/cpu.blif": "blif"}
    var = "set top cpu\nyosys write_blif out/${top}_pre.blif\nyosys synth -top cpu\n"
    assert missing_writers(var, kinds) == (var, [])
    reset = "yosys synth -top cpu\nyosys design -reset\n"
    assert missing_writers(reset, kinds) == (reset, [])
    assert missing_writers("yosys synth -top cpu\nexit\n", {"out/a.blif": "blif"})[0] == \
        "yosys synth -top cpu\nyosys write_blif out/a.blif\nexit\n"
    # a pass's own report is never added at the end: it belongs after the steps it reports on
    assert missing_writers("yosys synth -top cpu\n", {"out/fsm_info.txt": "fsm_info"})[1] == []
