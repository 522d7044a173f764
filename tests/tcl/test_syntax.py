"""Level 1: the Tcl splitter and tclsh find unbalanced braces, brackets and quotes on the right line."""
from assistant.tcl.commands import tcl_builtins
from assistant.tcl.syntax import check_syntax, tclsh_incomplete
from assistant.tcl.words import parse_script, walk

GOOD = """# a comment with a brace {
set top counter
proc synth_it {name} {
    if {$name eq ""} {
        error "no top"
    } else {
        yosys synth -top $name
    }
}
foreach f {a.v b.v} { puts "reading $f; \\"quoted\\"" }
set n [llength [list 1 [expr {2 + 3}]]]
synth_it $top
"""


def test_well_formed_script_has_no_issues(tclsh):
    assert check_syntax(GOOD) == []


def test_words_and_lines():
    script = parse_script("set a 1; set b {x y}\nyosys synth \\\n  -top top\n")
    assert [c.line for c in script.commands] == [1, 1, 2]
    assert [w.literal for w in script.commands[2].words] == ["yosys", "synth", "-top", "top"]
    assert script.commands[1].words[2].kind == "braced" and script.commands[1].words[2].literal == "x y"


def test_walk_finds_commands_inside_bodies_and_substitutions():
    commands, errors = walk(GOOD)
    names = {(c.line, c.name) for c in commands}
    assert (7, "yosys") in names and (5, "error") in names and (11, "expr") in names
    assert (11, "llength") in names and (11, "list") in names
    assert errors == []


def test_unclosed_quote_inside_proc_body_reports_its_line():
    issues = check_syntax('set a 1\nproc f {x} {\n    puts "hi $x\n}\nf 1\n')
    assert [(i.line, "close-quote" in i.message) for i in issues] == [(3, True)]


def test_unclosed_brace_is_placed_by_indentation():
    script = "proc f {} {\n    if {1} {\n        puts a\n\n}\nputs b\n"
    issues = check_syntax(script)
    assert len(issues) == 1 and issues[0].line == 2 and "close-brace" in issues[0].message
    assert "line 1" in issues[0].message


def test_unclosed_bracket_and_extra_characters():
    issues = check_syntax("puts ok\nset x [lindex {a b} 0\nputs $x\n")
    assert [(i.line, "close-bracket" in i.message) for i in issues] == [(2, True)]
    issues = check_syntax('puts ok\nputs {a}b\nputs "c"d\n')
    assert [(i.line, i.message) for i in issues] == [(2, "extra characters after close-brace"),
                                                     (3, "extra characters after close-quote")]


def test_tclsh_reports_where_an_incomplete_command_starts(tclsh):
    assert tclsh_incomplete("puts a\nputs b\nset x {\nputs c\n") == 3
    assert tclsh_incomplete(GOOD) is None


def test_tcl_builtins_come_from_tclsh(tclsh):
    names = tcl_builtins()
    assert {"puts", "foreach", "lsort", "dict", "namespace"} <= names
    assert "synth" not in names
