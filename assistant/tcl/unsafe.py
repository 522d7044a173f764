"""Part of level 2 of the Tcl check: constructs that reach outside the tool, found before anything runs.

A flow script reads RTL, calls the tool and writes reports; it has no reason to run programs, open
network connections, load native code, drive other interpreters or write outside its scratch space.
Each of these is a lint finding of kind ``unsafe`` (it fails the check), so a generated script that
copied one from a poisoned example is never run unless the user asks (see
:func:`assistant.tcl.generate.generate_script`). Found:

- Tcl: ``exec``, ``socket``, ``load``, ``interp`` (as a command or as a word handed to ``rename``,
  ``tailcall``, ``list``...), ``open |cmd``, ``package require`` of anything but pure-Tcl data packages;
- a command whose name is computed at run time (``$c ls``, ``[set c] ls``, ``{*}$cmd``) and a script
  built at run time (``eval $x``, ``uplevel 1 $body``, ``catch $x``): either could be ``exec``;
- yosys: ``!cmd``, ``exec``, ``shell``, ``plugin``, ``abc -exe``, ``show -viewer``, a pass name
  computed at run time;
- writes (``open PATH w``, ``file delete/copy/...``, ``write_*``, ``tee -o``, any ``-o FILE``) to a
  literal path outside the sandbox: absolute and not under /tmp (the run's private /tmp), ``..``, ``~``;
- any of the above hidden in a braced string (``set x {exec ls}``, ``after 0 {...}``, ``if {[exec ..]}``).

This is a net for the obvious, not the defence: a script can still build a path at run time. The
defence is the sandbox (:mod:`assistant.tcl.sandbox`), where every script runs.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath

from assistant.tcl.words import Command, Word, body_words, walk, walk_data
from assistant.types import LintIssue

UNSAFE = "unsafe"
_TCL = {
    "exec": "runs a program outside the tool",
    "socket": "opens a network connection",
    "load": "loads native code into the interpreter",
    "interp": "creates or drives another interpreter (it can lift any restriction)",
}
_YOSYS = {
    "exec": "runs a shell command",
    "shell": "opens an interactive shell",
    "plugin": "loads native code into yosys",
}
_YOSYS_OPTIONS = {("abc", "-exe"): "runs the given program instead of ABC",
                  ("abc9", "-exe"): "runs the given program instead of ABC",
                  ("show", "-viewer"): "runs the given viewer program"}
# pure-Tcl data packages a flow may reasonably use; anything else may load native code or run programs
_SAFE_PACKAGE = re.compile(r"^(Tcl|json|json::write|csv|cmdline|textutil(::\w+)?|struct(::\w+)?|math(::\w+)?|"
                           r"sha256|md5|base64|yaml|huddle|report|logger)$")
_WRITE_MODE = re.compile(r"[wa+]|WRONLY|RDWR|CREAT|APPEND|TRUNC")
_FILE_WRITES = {"delete", "mkdir", "copy", "rename", "link", "attributes", "mtime", "atime"}
_SAFE_DEVICES = {"/dev/null", "/dev/stdout", "/dev/stderr"}


def _issue(word_or_cmd: Word | Command, command: str, reason: str, option: str | None = None) -> LintIssue:
    return LintIssue(line=word_or_cmd.line, command=command, option=option, problem=UNSAFE,
                     suggestion=f"{reason}; not allowed in a flow script (generated scripts using it are not run)")


def outside_sandbox(path: str) -> bool:
    """A literal path that points outside the run's writable space (the sandbox and its private /tmp)."""
    if path.startswith("~") or ".." in PurePosixPath(path).parts:
        return True
    if path.startswith("/"):
        return not (path == "/tmp" or path.startswith("/tmp/") or path in _SAFE_DEVICES)
    return False


def _write_target(word: Word, command: str, option: str | None = None) -> list[LintIssue]:
    lit = word.literal
    if lit is not None and outside_sandbox(lit):
        return [_issue(word, command, f"writes {lit!r}, outside the sandbox", option)]
    return []


def _yosys_call(cmd: Command, words: list[Word]) -> list[LintIssue]:
    """`yosys PASS args...` (``words`` start at PASS) or an imported pass called bare."""
    if not words:
        return []
    name = words[0].literal
    if name is None or words[0].expand:
        return [_issue(cmd, "yosys", "the pass name is computed at run time, so it cannot be checked")]
    if name.startswith("!"):
        return [_issue(cmd, name[:40], "runs a shell command")]
    issues = []
    for w in words:  # `tee -o x exec -- ls`: the wrapped pass is a later word
        if w.literal in _YOSYS:
            issues.append(_issue(w, w.literal, _YOSYS[w.literal]))
    i = 1
    while i < len(words):
        opt = words[i].literal
        value = words[i + 1] if i + 1 < len(words) else None
        if (name, opt) in _YOSYS_OPTIONS:
            issues.append(_issue(words[i], name, _YOSYS_OPTIONS[name, opt], opt))
        if opt in ("-o", "-a") and value is not None:
            issues += _write_target(value, name, opt)
        i += 1
    if name.startswith("write_"):
        issues += [x for w in words[1:] if not (w.literal or "").startswith("-") for x in _write_target(w, name)]
    return issues


def _code_command(cmd: Command, tool: str) -> list[LintIssue]:
    """Findings for one command that the script runs (not one hidden in data)."""
    words, name = cmd.words, cmd.name
    if name is None or words[0].expand:
        return [_issue(cmd, words[0].text[:40], "the command name is computed at run time, so it cannot be checked "
                                                 "(it could be exec)")]
    bare = name.lstrip(":")
    issues = [_issue(w, w.literal.lstrip(":"), _TCL[w.literal.lstrip(":")])
              for w in words if w.literal is not None and w.literal.lstrip(":") in _TCL]
    args = words[1:]
    for body in body_words(cmd):
        if body.kind != "braced":
            issues.append(_issue(body, bare, "runs a script built at run time, so it cannot be checked"))
    if bare == "eval" and len(args) > 1:
        issues.append(_issue(cmd, bare, "runs a script built at run time, so it cannot be checked"))
    if bare == "subst" and args and args[-1].kind != "braced":
        issues.append(_issue(cmd, bare, "substitutes commands in a string built at run time"))
    if bare == "open" and args:
        target = args[0].text.lstrip('"{')
        if target.startswith("|"):
            issues.append(_issue(args[0], "open |", "runs a program (a command pipeline)"))
        elif len(args) > 1 and (args[1].literal is None or _WRITE_MODE.search(args[1].literal)):
            issues += _write_target(args[0], "open")
    if bare == "file" and args and args[0].literal in _FILE_WRITES:
        issues += [x for w in args[1:] if not (w.literal or "").startswith("-") for x in _write_target(w, "file")]
    if bare == "package" and args and args[0].literal == "require":
        names = [w for w in args[1:] if not (w.literal or "").startswith("-")]
        if names and (names[0].literal is None or not _SAFE_PACKAGE.match(names[0].literal)):
            issues.append(_issue(names[0], "package require", f"package {names[0].text!r} may load native code "
                                                              "or run programs"))
    if tool == "yosys" and bare == "yosys":
        if not (args and args[0].literal == "-import"):
            issues += _yosys_call(cmd, args)
    elif tool == "yosys" and (bare in _YOSYS or bare in ("abc", "abc9", "show", "tee") or bare.startswith("write_")):
        issues += _yosys_call(cmd, [Word(bare, 0, cmd.line, "bare"), *args])  # after `yosys -import`
    elif bare.startswith("write_"):  # another tool's writer (OpenROAD write_def ...)
        issues += [x for w in args if not (w.literal or "").startswith("-") for x in _write_target(w, bare)]
    return issues


def find_unsafe(script: str, tool: str) -> list[LintIssue]:
    """Every unsafe construct of ``script`` for ``tool``, sorted by line (one finding per line and command)."""
    commands, _ = walk(script)
    issues = [i for cmd in commands for i in _code_command(cmd, tool)]
    hidden, complete = walk_data(script)
    if not complete:
        issues.append(LintIssue(line=1, command="{", problem=UNSAFE, suggestion="braces nest too deeply to check "
                                "every braced string for hidden commands; not allowed in a flow script"))
    for cmd in hidden:  # braced strings: only names that are dangerous wherever they are run
        name = (cmd.name or "").lstrip(":")
        if name in _TCL:
            issues.append(_issue(cmd, name, f"{_TCL[name]} (in a braced string that may be run as a script)"))
        elif name == "open" and len(cmd.words) > 1 and cmd.words[1].text.lstrip('"{').startswith("|"):
            issues.append(_issue(cmd, "open |", "runs a program (in a braced string that may be run as a script)"))
    seen, unique = set(), []
    for i in sorted(issues, key=lambda x: x.line):
        if (i.line, i.command, i.option) not in seen:
            seen.add((i.line, i.command, i.option))
            unique.append(i)
    return unique
