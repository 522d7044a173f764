"""Level 2 of the Tcl check: commands and options against the tool's command database.

Every command of the script (top level, proc and loop bodies, [substitutions]) is looked up:
Tcl built-ins (from tclsh) and procs the script defines are known; the tool's commands get their
options checked: unknown option, missing value, missing required option, each with the nearest
valid names suggested. yosys's Tcl mode calls passes as ``yosys synth -top top``; bare ``synth`` works
only after ``yosys -import``, and is reported otherwise (yosys answers "invalid command name"). The passes
named like Tcl built-ins (`rename`, `proc`, `read`) are reported bare only when the call is not in Tcl's own
form (`rename -top new`): Tcl would run its built-in and fail.
In a script that ``source``s other files, an unknown command is only advisory (``unverified_command``,
see ADVISORY): the sourced file may define it. Constructs that reach outside the tool (``exec``,
``socket``, writes outside the sandbox...) are ``unsafe`` findings (:mod:`assistant.tcl.unsafe`).

    issues = lint_script(open("flow.tcl").read(), get_db("yosys"))
"""
from __future__ import annotations

import re

from assistant.tcl.commands import CommandDB, CommandSpec, tcl_builtins
from assistant.tcl.unsafe import UNSAFE, find_unsafe
from assistant.tcl.words import Command, Word, walk
from assistant.tcl.yosys_db import is_wrapper
from assistant.types import LintIssue

# Findings that inform but do not fail the check: a command unknown to the database in a script that
# sources other files (which may define it as a proc).
ADVISORY = frozenset({"unverified_command"})
# `yosys -import` renames the passes that clash with Tcl built-ins (yosys `help tcl`).
_IMPORT_ALIASES = {"procs": "proc", "renames": "rename"}
_OPTION = re.compile(r"^-[A-Za-z][\w+.-]*$")  # one word; `{-top}` is the same option as `-top` in Tcl


def _tcl_form(name: str, args: list[Word], known: set[str]) -> bool:
    """Whether a call of a Tcl built-in that is also a yosys pass (`proc`, `rename`, `read`) is Tcl's.

    Tcl runs the built-in, so the yosys pass written without its prefix fails only when the script runs
    (`rename -top timer t`: "wrong # args"). Tcl's forms are fixed: `proc name args body`, `rename old new`
    with ``old`` an existing command, `read [-nonewline] channel`. Any other call is the yosys pass."""
    lits = [a.literal for a in args]
    if name == "proc":
        return len(args) == 3
    if name == "rename":
        return len(args) == 2 and (lits[0] is None or lits[0].lstrip(":") in known)
    if name == "read":
        first = lits[0] if lits else None
        return bool(args) and (first is None or first == "-nonewline" or not first.startswith("-")) \
            and not re.search(r"\.(s?v|vh|svh|il|json|blif|aig)$", first or "")
    return True


def _suggest(names: list[str]) -> str | None:
    return ", ".join(names) if names else None


def _defined_procs(commands: list[Command]) -> set[str]:
    return {c.words[1].literal.lstrip(":") for c in commands
            if c.name == "proc" and len(c.words) > 1 and c.words[1].literal}


def check_options(spec: CommandSpec, args: list[Word], line: int, db: CommandDB) -> list[LintIssue]:
    """Options of one call of ``spec`` (``args`` are the words after the command name)."""
    shown = spec.name
    if not spec.check_options:
        return []
    issues: list[LintIssue] = []
    seen: set[str] = set()
    i = 0
    while i < len(args):
        word, lit = args[i], args[i].literal
        i += 1
        if lit is None or word.expand:
            continue  # a value known only at run time
        if not _OPTION.match(lit):
            if db.tool == "yosys" and is_wrapper(spec):  # `tee -o f stat`: the rest is another command
                issues += _check_yosys_call(args[i - 1:], line, db)
                break
            continue
        opt = spec.option(lit)
        if opt is None:
            issues.append(LintIssue(line=word.line, command=shown, option=lit, problem="unknown_option",
                                    suggestion=_suggest(spec.suggest_option(lit))))
            continue
        seen.add(opt.name)
        if opt.takes_value:
            nxt = args[i].literal if i < len(args) else None
            if i >= len(args) or (nxt is not None and spec.option(nxt) is not None):
                issues.append(LintIssue(line=word.line, command=shown, option=lit, problem="missing_value",
                                        suggestion=f"{lit} needs a value"))
            else:
                i += 1
    if any(w.expand for w in args):
        return issues  # `{*}$opts` may carry the required options
    for opt in spec.options:
        if opt.required and opt.name not in seen:
            issues.append(LintIssue(line=line, command=shown, option=opt.name, problem="missing_required_option",
                                    suggestion=f"add {opt.name}" + (" <value>" if opt.takes_value else "")))
    return issues


def _check_yosys_call(words: list[Word], line: int, db: CommandDB) -> list[LintIssue]:
    """`yosys CMD args...` (words start at CMD)."""
    if not words or words[0].literal is None:
        return []
    name = words[0].literal
    spec = db.get(name)
    if spec is None:
        return [LintIssue(line=words[0].line, command=name, problem="unknown_command",
                          suggestion=_suggest(db.suggest_command(name)))]
    return check_options(spec, words[1:], line, db)


def lint_script(script: str, db: CommandDB) -> list[LintIssue]:
    """All command and option problems of ``script`` for the tool described by ``db``."""
    commands, _ = walk(script)
    procs = _defined_procs(commands)
    builtins = tcl_builtins()
    sources_files = any(c.name == "source" for c in commands)
    imported = db.tool == "yosys" and any(
        c.name == "yosys" and len(c.words) > 1 and c.words[1].literal == "-import" for c in commands)
    issues: list[LintIssue] = []
    for cmd in commands:
        name = cmd.name
        if name is None:
            continue
        bare = name.lstrip(":")
        if db.tool == "yosys" and bare == "yosys":
            if len(cmd.words) > 1 and cmd.words[1].literal not in ("-import", None):
                issues += _check_yosys_call(cmd.words[1:], cmd.line, db)
            continue
        clash = db.tool == "yosys" and not imported and db.get(bare) is not None  # `yosys -import`: `procs`
        if bare in procs or (bare in builtins and (not clash or _tcl_form(bare, cmd.words[1:], builtins | procs))):
            continue
        spec = db.get(_IMPORT_ALIASES.get(bare, bare) if imported else bare)
        if spec is not None:
            if db.tool == "yosys" and not imported:
                why = f"Tcl's own `{bare}` is another command" if bare in builtins else "or put `yosys -import` first"
                issues.append(LintIssue(line=cmd.line, command=bare, problem="needs_yosys_prefix",
                                        suggestion=f"yosys {bare} ({why})"))
            issues += check_options(spec, cmd.words[1:], cmd.line, db)
        elif "::" in bare and not bare.startswith("gui::"):
            continue  # a tool namespace's internal command (ord::, sta::, odb::): not documented, not judged
        elif sources_files:
            near = db.suggest_command(bare, extra=sorted(builtins | procs))
            issues.append(LintIssue(line=cmd.line, command=bare, problem="unverified_command",
                                    suggestion="not a known command; a sourced file may define it"
                                               + (f" (nearest: {', '.join(near)})" if near else "")))
        else:
            extra = sorted(builtins | procs)
            issues.append(LintIssue(line=cmd.line, command=bare, problem="unknown_command",
                                    suggestion=_suggest(db.suggest_command(bare, extra=extra))))
    unsafe = find_unsafe(script, db.tool)
    flagged = {(i.line, i.command) for i in unsafe}
    # `exec ...` is reported as unsafe, not also as an unknown command
    issues = [i for i in issues if (i.line, i.command) not in flagged] + unsafe
    return sorted(issues, key=lambda x: x.line)


def unsafe_issues(issues: list[LintIssue]) -> list[LintIssue]:
    """The findings that make a script unsafe to run unasked (see :mod:`assistant.tcl.unsafe`)."""
    return [i for i in issues if i.problem == UNSAFE]
