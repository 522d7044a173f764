"""Level 1 of the Tcl check: syntax (unbalanced braces, brackets and quotes, incomplete commands).

Two independent judges: ChipAssist's Tcl word splitter (:mod:`assistant.tcl.words`, which also looks
inside proc and loop bodies and points at the line where the unclosed character opened), and tclsh
itself, which feeds the script line by line to ``info complete`` and reports where an incomplete
command starts. The splitter's findings come first; tclsh adds what the splitter missed.

    issues = check_syntax(open("flow.tcl").read())   # [SyntaxIssue(line=3, message=...)]
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from assistant.tcl.words import walk
from assistant.types import SyntaxIssue

# Reads the script given as argv 0 and prints "incomplete LINE" for a command that never completes.
_TCLSH_PROGRAM = r"""
set f [open [lindex $argv 0] r]
fconfigure $f -encoding utf-8
set data [read $f]
close $f
set buf ""
set start 0
set n 0
foreach line [split $data "\n"] {
    incr n
    if {$buf eq ""} { set start $n }
    append buf $line "\n"
    if {[info complete $buf]} { set buf "" }
}
if {[string trim $buf] ne ""} { puts "incomplete $start" }
"""


def tclsh_incomplete(script: str, timeout_s: float = 20.0) -> int | None:
    """Line where tclsh's `info complete` says an unfinished command starts; None if complete or no tclsh."""
    tclsh = shutil.which("tclsh")
    if not tclsh:
        return None
    with tempfile.TemporaryDirectory(prefix="chipassist-syntax-") as tmp:
        prog, src = Path(tmp) / "check.tcl", Path(tmp) / "script.tcl"
        prog.write_text(_TCLSH_PROGRAM, encoding="utf-8")
        src.write_text(script, encoding="utf-8")
        try:
            out = subprocess.run([tclsh, str(prog), str(src)], capture_output=True, text=True,
                                 timeout=timeout_s).stdout
        except subprocess.TimeoutExpired:
            return None
    for line in out.splitlines():
        if line.startswith("incomplete "):
            return int(line.split()[1])
    return None


def check_syntax(script: str, *, use_tclsh: bool = True) -> list[SyntaxIssue]:
    """All syntax problems found, each with its 1-based line."""
    _, errors = walk(script)
    issues = [SyntaxIssue(line=e.line, message=e.message) for e in errors]
    start = tclsh_incomplete(script) if use_tclsh else None
    if start is not None and not any(i.line >= start for i in issues):
        issues.append(SyntaxIssue(line=start, message="incomplete command (tclsh: `info complete` is false "
                                                      "from here to the end of the script)"))
    return sorted(issues, key=lambda i: i.line)
