"""Level 2: unknown commands and options, missing values and required options, with suggestions."""
from assistant.tcl.commands import get_db
from assistant.tcl.lint import lint_script


def _found(issues):
    return {(i.line, i.command, i.option, i.problem) for i in issues}


def test_yosys_hallucinations_are_found_with_suggestions(yosys):
    script = """yosys read_verilog -sv counter.v
yosys synth -top counter -flaten
yosys synth_asic -top counter
proc report {} {
    yosys stat -widht
}
report
yosys tee -o stat.txt stat -top
set x [yosys hierarchy -chek]
"""
    issues = lint_script(script, get_db("yosys"))
    assert _found(issues) == {
        (2, "synth", "-flaten", "unknown_option"),
        (3, "synth_asic", None, "unknown_command"),
        (5, "stat", "-widht", "unknown_option"),
        (8, "stat", "-top", "missing_value"),  # inside `tee ... stat`: the wrapped command is checked too
        (9, "hierarchy", "-chek", "unknown_option"),
    }
    by_line = {i.line: i for i in issues}
    assert by_line[2].suggestion.startswith("-flatten")
    assert "-width" in by_line[5].suggestion and "-check" in by_line[9].suggestion


def test_tcl_builtins_and_own_procs_are_known(yosys):
    script = "proc my_flow {top} { yosys synth -top $top }\nset t counter\nforeach x {1} { puts $x }\nmy_flow $t\n"
    assert lint_script(script, get_db("yosys")) == []


def test_bare_yosys_commands_need_import(yosys):
    db = get_db("yosys")
    bare = "read_verilog counter.v\nsynth -top counter\n"
    assert {i.problem for i in lint_script(bare, db)} == {"needs_yosys_prefix"}
    assert lint_script("yosys -import\n" + bare, db) == []
    assert lint_script("yosys -import\nread_verilog counter.v\nprocs\nrenames -top top\n", db) == []
    assert _found(lint_script("yosys -import\nsynth -topp counter\n", db)) == {(2, "synth", "-topp", "unknown_option")}


def test_unknown_plain_command_suggests_nearest_name(yosys):
    (issue,) = lint_script("yosys read_verilog counter.v\nputz hello\n", get_db("yosys"))
    assert issue.problem == "unknown_command" and issue.line == 2 and "puts" in issue.suggestion


def test_openroad_required_options_and_unknown_names():
    script = """read_lef tech.lef
read_liberty cells.lib
link_design top
initialize_floorplan -utilization 30 -core_space 2
place_pins -hor_layers metal3
global_route -verbos
detailed_route_fast
global_placement -density
"""
    assert _found(lint_script(script, get_db("openroad"))) == {
        (4, "initialize_floorplan", "-site", "missing_required_option"),
        (5, "place_pins", "-ver_layers", "missing_required_option"),
        (6, "global_route", "-verbos", "unknown_option"),
        (7, "detailed_route_fast", None, "unknown_command"),
        (8, "global_placement", "-density", "missing_value"),
    }


def test_unknown_commands_in_a_script_that_sources_files_are_advisory():
    from assistant.tcl.check import check_script

    script = "source $::env(SCRIPTS_DIR)/load.tcl\nload_design 4_cts.odb 4_cts.sdc\nglobal_route -verbos\n"
    result = check_script(script, tool="openroad")
    assert _found(result.lint) == {(2, "load_design", None, "unverified_command"),
                                   (3, "global_route", "-verbos", "unknown_option")}
    assert not result.ok  # the real unknown option still fails the check
    assert check_script("source helpers.tcl\nload_design a.odb\n", tool="openroad").ok


def test_yosys_passes_named_like_tcl_builtins_need_the_prefix_outside_tcls_own_form(yosys):
    """`rename`, `proc` and `read` are Tcl built-ins too: Tcl runs them, and the yosys pass written bare fails
    only at run time ("wrong # args"). Tcl's own forms stay Tcl's."""
    db = get_db("yosys")

    def found(script):
        return [(i.problem, i.command) for i in lint_script(script, db)]
    for bare in ("rename -top timer t", "rename uart_tx tx_core", "proc", "proc -noopt", "read -sv rtl/a.sv",
                 "read rtl/a.v"):
        assert found(bare + "\n") == [("needs_yosys_prefix", bare.split()[0])], bare
    tcl = "rename puts _puts\nproc f {a} {return $a}\nrename f g\nset fh [open x]\nread $fh\nread -nonewline $fh\n"
    assert found(tcl) == []
    assert found("yosys -import\nrenames -top t\n") == []  # imported, the pass is `renames`
