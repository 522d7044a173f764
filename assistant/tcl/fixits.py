"""Deterministic fix-its: repairs the checker is sure of, applied before any model is asked again.

A small model's script often fails for reasons the command database already answers: a yosys pass called
without the `yosys` prefix, a misspelt command or option with exactly one close match. Asking the model to
repair those costs a whole round (tens of seconds on a CPU) and small models often fail to; rewriting the
line is instant and certain. Anything ambiguous (no match, or several) is left for the model or the user.

    script, fixes = apply_fixits(script, get_db("yosys"))
    fixes   # ["line 3: `stat` -> `yosys stat` (yosys passes need the prefix)", ...]
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher

from assistant.tcl.commands import CommandDB
from assistant.tcl.lint import lint_script
from assistant.tcl.outputs import (WRITER_KIND, WRITER_SUFFIX, expected_kind, expected_kinds, file_kind,
                                   missing_writers, writer_fixits)
from assistant.types import LintIssue

MAX_PASSES = 3  # a fix can uncover the next problem on the same line (prefix, then a misspelt option)
# How alike a name and its only suggestion must be to count as a typo: `flattn`/`flatten` (0.92) and
# `-widht`/`-width` (0.83) pass; an invented name such as `print_cells` -> `test_cell` (0.60) does not.
MIN_SIMILARITY = 0.8


def is_typo(wrong: str, right: str) -> bool:
    """Whether ``wrong`` is close enough to ``right`` to be rewritten without asking."""
    return SequenceMatcher(None, wrong.lower(), right.lower()).ratio() >= MIN_SIMILARITY


def _one(wrong: str, suggestion: str | None) -> str | None:
    """The one suggested name that is a typo away from ``wrong``, or None when none or several are."""
    if not suggestion:
        return None
    names = [s.strip() for s in suggestion.split(",") if s.strip()]
    close = [n for n in names if re.fullmatch(r"-?[A-Za-z_][\w:.+-]*", n) and is_typo(wrong, n)]
    return close[0] if len(close) == 1 else None


def _fix_line(line: str, issue: LintIssue, db: CommandDB) -> tuple[str, str] | None:
    """The fixed line and a description, or None when this issue has no certain fix."""
    name = re.escape(issue.command)
    if issue.problem == "needs_yosys_prefix":
        fixed = re.sub(rf"^(\s*)({name})(?=\s|$)", r"\1yosys \2", line, count=1)
        why = f"the yosys pass, not Tcl's {issue.command}" if "Tcl's" in (issue.suggestion or "") \
            else "yosys passes need the prefix"
        return (fixed, f"`{issue.command}` -> `yosys {issue.command}` ({why})") if fixed != line else None
    if issue.problem == "unknown_option" and issue.option == "-top":
        # `flatten -top pico_top`: the top is set by hierarchy or synth, and this command has no such option
        fixed = re.sub(r"\s-top\s+[^\s\]]+", "", line, count=1)
        return (fixed, f"`{issue.command} -top ...` -> `{issue.command}` ({issue.command} takes no -top; "
                       "the design's top is already set)") if fixed != line else None
    target = _one(issue.option or issue.command, issue.suggestion)
    if target is None:
        return None
    if issue.problem == "unknown_command":
        if db.get(target) is None:
            return None  # a Tcl built-in or proc suggestion: too far from what the author meant to be sure
        fixed = re.sub(rf"(^\s*(?:yosys\s+)?|\[\s*(?:yosys\s+)?)({name})(?=\s|\]|$)", rf"\g<1>{target}", line, count=1)
        return (fixed, f"`{issue.command}` -> `{target}` (the only close {db.tool} command)") if fixed != line else None
    if issue.problem == "unknown_option" and issue.option and target.startswith("-"):
        fixed = re.sub(rf"(?<=\s){re.escape(issue.option)}(?=\s|\]|$)", target, line, count=1)
        return (fixed, f"`{issue.command} {issue.option}` -> `{target}` (the only close option)") \
            if fixed != line else None
    return None


_TOP = re.compile(r"(?<=\s)-top\s+([A-Za-z_][\w$]*)")


# Commands that bring a design in; a script with none of them starts from an empty design.
_LOADS = re.compile(r"^\s*(?:yosys\s+)?(?:read_\w+|read|design\s+-load|script|tcl|source)\b")


def design_fixits(script: str, tool: str, modules: list[str], tops: list[str],
                  read: str | None = None) -> tuple[str, list[str]]:
    """Fixes that need the design: a `-top` naming no module of the design when the top is known (small
    models write `-top top`), and the design's ``read`` line put first in a script that never reads it
    (a small model asked for `write_btor` writes just that line)."""
    if tool != "yosys":
        return script, []
    fixes, lines = [], script.split("\n")
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            continue
        for name in _TOP.findall(line):
            # a module the script makes itself (`equiv_make gold gate equiv`, a wrapper it writes) is real
            made = re.search(rf"(?<![\w$-]){re.escape(name)}(?![\w$])", "\n".join(lines[:i]))
            if modules and name not in modules and len(tops) == 1 and not made:
                lines[i] = _TOP.sub(f"-top {tops[0]}", lines[i])
                fixes.append(f"line {i + 1}: `-top {name}` -> `-top {tops[0]}` (no module {name} in the design)")
    calls = [i for i, ln in enumerate(lines) if re.match(r"\s*yosys\s+(?!-import\b)\S", ln)]
    if read and calls and not any(_LOADS.match(ln) for ln in lines):
        lines.insert(calls[0], read)
        fixes.append(f"line {calls[0] + 1}: added `{read}` (the script never read the design)")
    return "\n".join(lines), fixes


# A file the task names: a path with a known output suffix, no placeholders (`out/<module>.v` is a pattern).
_TASK_PATH = re.compile(r"(?<![\w/.<>-])((?:[\w.-]+/)*[\w-]+(?:\.[\w-]+)*\.(?:v|sv|json|blif|edif|edf|edn|il|rtlil|"
                        r"cc|cpp|h|txt|rpt|log|csv|tsv|vcd|dot|kiss2|aig|aag|btor|smt2|spice|sp|lib))\b(?![/<>])")
# A per-item file the task names with a placeholder: `out/<module>.v` is `out/${module}.v` in a Tcl loop.
_TASK_PATTERN = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]*<\w+>[\w.-]*\.\w+)\b")
# Where a yosys line writes: the last word of `write_*`, the file after `tee ... -o` (no command substitution).
_WRITE = re.compile(r"^(\s*yosys\s+write_\w+(?:\s+\S+)*?\s+)([^\s\[\]]+)(\s*)$")
_TEE = re.compile(r"^(\s*yosys\s+tee(?:\s+-[qa])*\s+-o\s+)([^\s\[\]]+)")
_VAR = re.compile(r"\$\{?(\w+)\}?")
# A file a Tcl script opens for writing: `set fh [open cells.csv w]` (the target is group 2).
_OPEN = re.compile(r"^(.*\[\s*open\s+)([^\s\[\]$\"{}]+)(\s+[\"{]?[wa]\+?[\"}]?\s*\].*)$")
_READ = re.compile(r"^(\s*yosys\s+read_verilog)(?!.*\s-sv\b)(\s.*\.sv\b.*)$")


def task_paths(task: str, inputs: list[str] = ()) -> list[str]:
    """The output files a task names ("... write it to out/dma.json" -> ["out/dma.json"]), in order; a
    placeholder becomes a Tcl variable ("out/<module>.v" -> "out/${module}.v"). Files of the design
    (``inputs``, as the sandbox names them, or their base names) are the task's inputs, never outputs."""
    patterns = [re.sub(r"<(\w+)>", r"${\1}", p) for p in _TASK_PATTERN.findall(task)]
    names = set(inputs) | {i.rsplit("/", 1)[-1] for i in inputs}
    return [p for p in dict.fromkeys(_TASK_PATH.findall(task) + patterns) if p not in names]


# A target of a yosys writer (:data:`assistant.tcl.outputs.WRITER_KIND`) without a suffix (`write_btor -v top`),
# or none, is read by its writer. Files are compared by :func:`assistant.tcl.outputs.file_kind`: reports are one
# kind to a user, and so are the two spellings of EDIF or RTLIL files.
_WRITER = re.compile(r"^\s*yosys\s+(write_\w+)((?:\s+[^\s\[\]]+)*)\s*$")


def _unnamed_target(line: str, db: CommandDB | None) -> tuple[str, str | None] | None:
    """(the writer, its target word or None) for a `write_*` line whose target has no suffix or is missing:
    `write_btor -v top` ("top" is the file), `write_verilog -noattr` (no file: the netlist goes to the log).
    None for other lines, or when the last word may be the value of an option (``db`` says which take one)."""
    m = _WRITER.match(line)
    spec = db.get(m.group(1)) if m and m.group(1) in WRITER_KIND and db is not None else None
    if spec is None:
        return None
    words = m.group(2).split()

    def takes_value(word: str) -> bool:
        option = spec.option(word)
        return option is not None and option.takes_value
    if words and not words[-1].startswith("-"):
        if file_kind(words[-1]) or "$" in words[-1] or (len(words) > 1 and takes_value(words[-2])):
            return None
        return m.group(1), words[-1]
    return None if words and takes_value(words[-1]) else (m.group(1), None)


def retarget_outputs(script: str, paths: list[str], db: CommandDB | None = None) -> tuple[str, list[str]]:
    """Write targets renamed to the task's files: a script writing `dma.json` (a yosys writer, `tee -o`, or a
    Tcl `open ... w`) where the task asked for `out/dma.json` gets that name, when exactly one file of the task
    has the target's suffix and no other line already writes it. Small models copy example names; the task's name is what the user will look for.
    With ``db``, a writer given no file or a file without a suffix (`write_btor -v top`) gets the one file of
    its format the task names."""
    lines, fixes = script.split("\n"), []
    written = {m.group(2) for ln in lines for m in [_WRITE.match(ln) or _TEE.match(ln) or _OPEN.match(ln)] if m}
    for i, line in enumerate(lines):
        unnamed = _unnamed_target(line, db)
        if unnamed:
            writer, target = unnamed
            same = [p for p in paths if file_kind(p) == WRITER_KIND[writer] and p not in written and "$" not in p]
            if len(same) == 1:
                lines[i] = (line.rstrip()[:-len(target)] + same[0]) if target else f"{line.rstrip()} {same[0]}"
                written.add(same[0])
                fixes.append(f"line {i + 1}: `{writer}` writes `{same[0]}` (the task's {WRITER_SUFFIX[writer]} file)")
            continue
        m = _WRITE.match(line) or _TEE.match(line) or _OPEN.match(line)
        if not m or m.group(2) in paths:
            continue
        if any(m.group(2) in other for j, other in enumerate(lines) if j != i):
            continue  # a working file the script reads back (`tee -o cnt.txt ...` then `open cnt.txt`)
        # a target with a variable only takes a pattern with the same variable, a plain one only a plain file
        names = set(_VAR.findall(m.group(2)))
        same = [p for p in paths if file_kind(p) == file_kind(m.group(2)) and p not in written
                and set(_VAR.findall(p)) == names]
        if file_kind(m.group(2)) and len(same) == 1:
            lines[i] = line[:m.start(2)] + same[0] + line[m.end(2):]
            written.add(same[0])
            fixes.append(f"line {i + 1}: writes `{m.group(2)}` -> `{same[0]}` (the file the task names)")
    return "\n".join(lines), fixes


# `yosys stat > out/x.txt`: a shell redirect yosys takes as more arguments; `tee -o` is how yosys writes a report.
_REDIRECT = re.compile(r"^(\s*yosys\s+)(\w+(?:\s+[^>\s]+)*)\s*>\s*([^\s\[\]]+)\s*$")
# `yosys tee -o F stat` with the pass bare: (indent + `yosys `, `tee ... -o F `, the pass)
_TEE_BARE = re.compile(r"^(\s*yosys\s+)(tee(?:\s+-[qa])*\s+-o\s+\S+\s+)(stat|check|ltp|sta)\s*$")
# Passes whose output is a report, the ones an engineer asks to "put in" a file.
_REPORT = re.compile(r"^(\s*yosys\s+)((?:stat|check|ls|portlist|ltp|sta|select\s+.*-(?:list|count))\b.*)$")
# "elaborate it without synthesizing", "NOT synthesized", "no technology mapping": only elaboration is wanted.
_NO_SYNTH = re.compile(r"\b(?:without|no|not|never)\s+(?:any\s+|doing\s+)?(?:synthesi[sz]\w*|tech\w*[- ]mapp\w*)"
                       r"|\bunsynthesi[sz]ed\b", re.I)
_SYNTH = re.compile(r"^(\s*)yosys\s+synth(?:_\w+)?\b(?!.*\s-run\b)(.*)$")


def _reports(script: str, outputs: list[str], task: str = "") -> tuple[str, list[str]]:
    """The task's report file written by a shell redirect turned into `tee -o`, or (when the script never
    names it) the last report pass wrapped in `tee -o` for it: the pass its name and words say when they say
    one (out/hierarchy.txt: `hierarchy`; :func:`assistant.tcl.outputs.expected_kind`), else any report pass."""
    lines, fixes = script.split("\n"), []
    for i, line in enumerate(lines):
        m = _REDIRECT.match(line)
        if m:
            lines[i] = f"{m.group(1)}tee -o {m.group(3)} {m.group(2)}"
            fixes.append(f"line {i + 1}: `> {m.group(3)}` -> `tee -o {m.group(3)}` (yosys has no shell redirects)")
    for i, line in enumerate(lines):
        # `stat -tech cmos` shown, then `tee -o F stat`: the report written is the plain one; write the one shown
        m = _TEE_BARE.match(line)
        shown = [ln.strip() for ln in lines[:i] if re.match(rf"\s*yosys\s+{m.group(3)}\s+-", ln)] if m else []
        if shown:
            lines[i] = f"{m.group(1)}{m.group(2)}{shown[-1].split(None, 1)[1]}"
            fixes.append(f"line {i + 1}: `tee ... {m.group(3)}` -> `tee ... {shown[-1].split(None, 1)[1]}` (the "
                         "report shown before, with its options)")
    text = "\n".join(lines)
    unnamed = [p for p in outputs if file_kind(p) == "report" and "$" not in p and p not in text]
    kind = expected_kind(task, unnamed[0]) if len(unnamed) == 1 else None
    report = re.compile(rf"^(\s*yosys\s+)({kind}\b.*)$") if kind else _REPORT
    calls = [i for i, ln in enumerate(lines) if report.match(ln)]
    if len(unnamed) == 1 and calls:
        i = calls[-1]
        m = report.match(lines[i])
        lines[i] = f"{m.group(1)}tee -o {unnamed[0]} {m.group(2)}"
        fixes.append(f"line {i + 1}: `{m.group(2).split()[0]}` -> `tee -o {unnamed[0]} ...` (the report the task "
                     "asks for)")
    return "\n".join(lines), fixes


def _elaborate_only(script: str, task: str) -> tuple[str, list[str]]:
    """`synth` replaced by elaboration (`hierarchy -check -top`, `proc`, and `flatten` if synth had -flatten)
    when the task says not to synthesize and never asks to; a partial synth (`-run`) is left alone."""
    if not _NO_SYNTH.search(task) or re.search(r"synthesi[sz]", _NO_SYNTH.sub(" ", task), re.I):
        return script, []
    lines, fixes = script.split("\n"), []
    for i, line in enumerate(lines):
        m = _SYNTH.match(line)
        if not m:
            continue
        top = re.search(r"-top\s+(\S+)", m.group(2))
        steps = [f"yosys hierarchy -check -top {top.group(1)}" if top else "yosys hierarchy -check", "yosys proc"]
        steps += ["yosys flatten"] if re.search(r"(?<!\S)-flatten\b", m.group(2)) else []
        lines[i] = "\n".join(m.group(1) + step for step in steps)
        fixes.append(f"line {i + 1}: `{line.strip()}` -> `{'; '.join(steps)}` (the task asks for no synthesis)")
    return "\n".join(lines), fixes


def task_fixits(script: str, tool: str, outputs: list[str], task: str = "",
                db: CommandDB | None = None) -> tuple[str, list[str]]:
    """Fixes that need the task: a line writing the wrong kind into one of the task's files rewritten to the
    kind's writer, output files renamed to the ones the task names (``outputs``, from :func:`task_paths`; a
    writer given none gets its format's), a report the task names written with `tee -o`, the writer of a file
    the script never wrote appended (:mod:`assistant.tcl.outputs`),
    `synth` turned into elaboration when the task says "without synthesizing", and `-sv` added to a
    `read_verilog` of SystemVerilog files (yosys rejects SystemVerilog syntax without it)."""
    if tool != "yosys":
        return script, []
    kinds = expected_kinds(task, outputs)
    script, fixes = _elaborate_only(script, task)
    script, more = writer_fixits(script, kinds)
    fixes += more
    script, more = _reports(script, outputs, task)
    fixes += more
    script, more = retarget_outputs(script, outputs, db)
    fixes += more
    script, more = missing_writers(script, kinds)
    fixes += more
    script, more = tcl_variables(script)
    fixes += more
    lines = script.split("\n")
    for i, line in enumerate(lines):
        m = _READ.match(line)
        if m:
            lines[i] = f"{m.group(1)} -sv{m.group(2)}"
            fixes.append(f"line {i + 1}: `read_verilog` -> `read_verilog -sv` (SystemVerilog files)")
    return "\n".join(lines), fixes


# Where a Tcl script sets a variable: `set v`, `foreach v` / `foreach {a b}`, `regexp ... -> a b`, `gets ch v`,
# `lassign l a b`, `global`/`upvar`, and a proc's arguments (defaults too: `proc p {top {opts ""}}`).
_SETS = re.compile(r"\b(?:set|gets\s+\S+|incr|append|lappend|global|variable|upvar(?:\s+#?\d+)?\s+\S+)\s+(\w+)"
                   r"|\bforeach\s+(\w+)|\bforeach\s+\{([\w\s]+)\}|->((?:\s+\w+)+)|\blassign\s+(?:\{[^}]*\}|\S+)((?:[ \t]+\w+)+)"
                   r"|\bproc\s+\S+\s+\{((?:[^{}]|\{[^{}]*\})*)\}|\bcatch\s+.*\s(\w+)\s*$", re.M)
# The file a line writes, with variables: a yosys writer's last word, `tee -o F`/`tee -a F`, `open F w`.
_WRITE_TARGET = re.compile(r"^(\s*yosys\s+(?:write_\w+(?:\s+\S+)*?\s+|tee(?:\s+-q)*\s+-[oa]\s+)|.*\[\s*open\s+)"
                           r"([^\s\[\]\"{}]*\$[^\s\[\]\"{}]*)(?=\s*$|\s+\S)")


def tcl_variables(script: str) -> tuple[str, list[str]]:
    """In the file a line writes (a yosys writer's, `tee -o`'s, a Tcl `open ... w`'s): `$m_syn` where only `m`
    is set (`out/$m_syn.v` in a loop over `m`) -> `${m}_syn`. Tcl reads the longest name and fails with
    "can't read "m_syn": no such variable", which a small model rarely understands. Only write targets are
    touched: elsewhere a name the script sets in a way not recognised here must stay as written."""
    defined = set()
    for m in _SETS.finditer(script):
        defined.update(re.findall(r"\w+", " ".join(g for g in m.groups() if g)))
    lines, fixes = script.split("\n"), []

    def brace(m: re.Match, i: int) -> str:
        name = m.group(1)
        stems = [v for v in defined if name.startswith(v + "_")] if name not in defined else []
        if len(stems) != 1:
            return m.group(0)
        fixes.append(f"line {i + 1}: `${name}` -> `${{{stems[0]}}}{name[len(stems[0]):]}` (only `{stems[0]}` is set)")
        return f"${{{stems[0]}}}{name[len(stems[0]):]}"
    for i, line in enumerate(lines):
        w = _WRITE_TARGET.match(line)
        if w and not line.lstrip().startswith("#"):
            target = re.sub(r"\$(\w+)(?![\w(])", lambda m: brace(m, i), w.group(2))  # not an array `$a(x)`
            lines[i] = line[:w.start(2)] + target + line[w.end(2):]
    return "\n".join(lines), fixes


LOOP_MIN_REPEATS = 3  # a block of lines written this many times in a row is a decoding loop, not a flow
LOOP_MAX_BLOCK = 4


def collapse_loops(script: str) -> tuple[str, list[str]]:
    """A block of 1-4 lines repeated back to back (``LOOP_MIN_REPEATS`` times or more) kept once.

    A small model that loses its way repeats a line or two until the token cap cuts it off (seen in repair
    rounds: `chtype ... -type reg` / `-type wire` alternating to the token cap). The copies are never what an
    engineer wants, and fed back to the model they fill the next prompt and invite more of the same; the
    (possibly cut) last copy goes too."""
    lines, fixes, i = script.split("\n"), [], 0
    while i < len(lines):
        for k in range(1, LOOP_MAX_BLOCK + 1):
            block = lines[i:i + k]
            if len(block) < k or not any(re.search(r"\w", b) for b in block):  # not `}` `}` `}`
                break
            n = 1
            while lines[i + n * k: i + (n + 1) * k] == block:
                n += 1
            if n < LOOP_MIN_REPEATS:
                continue
            # the token cap may have cut one more copy short: its lines match the block's, the last one a prefix
            rest = lines[i + n * k:]
            cut = 0 < len(rest) <= k and rest[-1].strip() and rest[:-1] == block[:len(rest) - 1] \
                and block[len(rest) - 1].startswith(rest[-1])
            del lines[i + k: i + n * k + (len(rest) if cut else 0)]
            fixes.append(f"line {i + 1}: {k} line(s) repeated {n} times (a decoding loop) kept once")
            break
        i += 1
    return "\n".join(lines), fixes


def apply_fixits(script: str, db: CommandDB) -> tuple[str, list[str]]:
    """``script`` with every certain fix applied, and one description per fix (with its line)."""
    fixes: list[str] = []
    for _ in range(MAX_PASSES):
        lines = script.split("\n")
        changed = False
        for issue in lint_script(script, db):
            i = issue.line - 1
            if not 0 <= i < len(lines):
                continue
            done = _fix_line(lines[i], issue, db)
            if done:
                lines[i] = done[0]
                fixes.append(f"line {issue.line}: {done[1]}")
                changed = True
        script = "\n".join(lines)
        if not changed:
            break
    return script, fixes
