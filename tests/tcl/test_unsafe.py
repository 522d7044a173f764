"""Lint's `unsafe` findings (issue 13, item 2): constructs that reach outside the tool fail the check."""
import pytest

from assistant.tcl.check import check_script
from assistant.tcl.commands import get_db
from assistant.tcl.lint import lint_script
from assistant.tcl.unsafe import outside_sandbox

UNSAFE = [
    ('exec sh -c "umount /tmp"', "exec"),
    ('set f [open "|ls -la" r]', "open |"),
    ("set f [open |cat r]", "open |"),
    ("set s [socket 127.0.0.1 80]", "socket"),
    ("load /tmp/evil.so", "load"),
    ("interp create -safe x", "interp"),
    ("package require Tclx", "package require"),
    ("set c exec\n$c ls", "exec"),
    ("[set c] ls", "[set c]"),
    ("{*}$cmd", "$cmd"),
    ("eval $x", "eval"),
    ("uplevel 1 $body", "uplevel"),
    ("rename exec run", "exec"),
    ("yosys {!echo hi}", "!echo hi"),
    ("yosys exec -- id", "exec"),
    ("yosys shell", "shell"),
    ("yosys plugin -i evil.so", "plugin"),
    ("yosys abc -exe /bin/sh", "abc"),
    ("yosys show -viewer sh", "show"),
    ("yosys tee -o /etc/x stat", "tee"),
    ("yosys tee -q -o ../up.txt stat", "tee"),
    ("yosys write_verilog /etc/cron.d/x", "write_verilog"),
    ("yosys -import\nwrite_json ~/x.json", "write_json"),
    ("set f [open /etc/x w]", "open"),
    ("set f [open /root/.ssh/authorized_keys {WRONLY CREAT}]", "open"),
    ("file delete -force /etc/hosts", "file"),
    ("set later {exec rm -rf /}", "exec"),
    ("after 0 {exec id}", "exec"),
    ('if {[exec id] ne ""} { puts x }', "exec"),
    ("yosys $pass", "yosys"),
]


@pytest.mark.parametrize("script,command", UNSAFE)
def test_each_unsafe_construct_is_flagged(yosys, script, command):
    issues = [i for i in lint_script(script + "\n", get_db("yosys")) if i.problem == "unsafe"]
    assert command in {i.command for i in issues}, issues
    assert all("not allowed" in i.suggestion for i in issues)


def test_safe_flows_have_no_unsafe_findings(yosys):
    script = """package require json
set out /tmp/out
file mkdir $out
yosys read_verilog counter.v
yosys tee -o /tmp/out/stat.txt stat
yosys write_verilog -noattr [file join $out net.v]
yosys write_json out.json
set f [open report.txt w]; puts $f [exec_count]; close $f
set g [open /usr/share/yosys/cells_sim.v r]; close $g
catch {yosys synth -top counter} err
puts "exec done"
proc exec_count {} { return 1 }
"""
    assert [i for i in lint_script(script, get_db("yosys")) if i.problem == "unsafe"] == []


def test_openroad_writers_and_paths():
    issues = lint_script("write_def /etc/x.def\nwrite_def out.def\n", get_db("openroad"))
    assert [(i.line, i.command, i.problem) for i in issues] == [(1, "write_def", "unsafe")]
    assert outside_sandbox("/etc/x") and outside_sandbox("a/../../x") and outside_sandbox("~/x")
    assert not outside_sandbox("/tmp/x") and not outside_sandbox("out/x.v") and not outside_sandbox("/dev/null")


def test_unsafe_fails_the_check_but_a_pasted_script_still_runs_confined(yosys):
    result = check_script("puts [exec id -u]\n")
    assert not result.ok and [i.problem for i in result.lint] == ["unsafe"]
    if result.run.ran:  # where the sandbox exists: it ran there, as nobody
        assert result.run.ok and "65534" in result.run.log_tail
    unasked = check_script("puts [exec id -u]\n", run_unsafe=False)
    assert not unasked.run.ran and "unsafe constructs (exec at line 1)" in unasked.run.skipped_reason


def test_deeply_nested_braces_are_flagged_quickly(yosys):
    import time

    t0 = time.monotonic()
    issues = lint_script("set x " + "{" * 20000 + "exec id" + "}" * 20000 + "\n", get_db("yosys"))
    assert time.monotonic() - t0 < 10
    assert any(i.problem == "unsafe" and "nest too deeply" in i.suggestion for i in issues)
