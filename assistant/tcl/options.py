"""Option hints: the tool commands and options whose own help text reads closest to the task.

An engineer asks for "every cell a .gate line, not a .subckt", "a purging clean-up" or "buses as arrays in
bracket notation"; yosys's help says ``write_blif -gates: print .gate instead of .subckt lines``, ``opt_clean
-purge: also remove internal nets if they have a public name`` and ``write_edif -pvector: ... square
brackets``. The 1.5B model does not know these options, and the cookbook cannot hold a recipe per option
family (on twenty tasks that each turned on an option no recipe showed, it passed 2: bench/README.md). So the
prompt gets the few options (and commands) whose help matches the task's words, with their help, and the
model picks the one the task asks for.

    hints = find_hints(get_db("yosys"), "write the BLIF with .gate lines only", n=4)
    [h.line() for h in hints]   # ['write_blif -gates: print .gate instead of .subckt lines ...', ...]

Separately, :func:`named_flags` finds the flags a task names by their own name ("flattened" is `synth
-flatten`, "FlowMap" is `synth -flowmap`) on the commands a script already calls, for the generation loop to
add.

Matching is BM25 over one document per command (name, summary, prose) and one per option (command, option,
description), with the cookbook's stemmer, so it needs no model and runs in milliseconds once the index is
built (cached per database).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.tcl.commands import CommandDB
from assistant.tcl.cookbook import terms
from retriever.bm25 import BM25Index

RELATIVE_FLOOR = 0.4  # hints scoring under this share of the best one are dropped
MIN_SCORE = 8.0  # and any under this BM25 score: a word or two shared by chance (each hint costs ~1 s of prompt on CPU)
HINT_CHARS = 110  # the help shown per hint: its first sentence or so (a prompt costs ~1 s per 100 tokens on CPU)
# Words every task uses ("synthesize the design and write the netlist"): matching on them alone would hint the
# options of `synth`, `write_verilog` and `design` for every task.
_GENERIC = set(terms("synthesize synthesized synthesis design module modules file files write writes written "
                      "netlist save report print run script yosys the and with its out output outputs read "
                      "then each all one only into from that this"))
# Commands that are not for flows: tool development and test passes, and Verific (not in the open-source build).
_NOT_FOR_FLOWS = ("test_", "abc9_ops", "bugpoint", "verific", "mutate", "fst2tb", "glift", "qbfsat", "debug",
                  "scratchpad", "logger")


def for_flows(command: str) -> bool:
    """False for the tool's development and test passes (and Verific, absent from the open-source build)."""
    return not command.startswith(_NOT_FOR_FLOWS)


@dataclass(frozen=True)
class Hint:
    """A command (``option`` empty) or one of its options, with its help text and match score."""

    command: str
    option: str
    takes_value: bool
    text: str
    score: float

    @property
    def name(self) -> str:
        """``write_blif -gates``, or the command alone for a command hint."""
        return f"{self.command} {self.option}".strip()

    @property
    def short(self) -> str:
        """The help text cut to about ``HINT_CHARS`` at a word boundary."""
        return self.text if len(self.text) <= HINT_CHARS else self.text[:HINT_CHARS].rsplit(" ", 1)[0] + " ..."

    def line(self) -> str:
        """The hint as one prompt line: ``write_blif -gates: print .gate instead of .subckt lines ...``."""
        head = self.name + (" <value>" if self.takes_value else "")
        return f"{head}: {self.short}" if self.short else head


class _Finder:
    """The BM25 index over one tool's commands and options."""

    def __init__(self, db: CommandDB) -> None:
        self.entries: list[tuple[str, str, bool, str]] = []
        texts = []
        for spec in db.commands.values():
            if not for_flows(spec.name):
                continue
            about = spec.summary + (". " + spec.help if spec.help else "")
            self.entries.append((spec.name, "", False, about))
            texts.append(f"{spec.name} {spec.name.replace('_', ' ')} {about}")
            for opt in spec.options:
                if opt.description:  # an option without help only matches on its name: noise
                    self.entries.append((spec.name, opt.name, opt.takes_value, opt.description))
                    texts.append(f"{spec.name} {opt.name} {opt.description}")
        self.index = BM25Index.build(list(range(len(texts))), [" ".join(terms(t)) for t in texts])

    def find(self, task: str, n: int, names: tuple[str, ...] = ()) -> list[Hint]:
        """The `n` options whose help best matches the task's words (BM25; the design's names left out, at most two
        per command, none far below the best)."""
        # the design's own names are not a request: "pico_irq_sync" must not hint `async2sync`
        named = set(terms(" ".join(names)))
        words = [t for t in terms(task) if t not in _GENERIC and t not in named]
        if not words:
            return []
        ids, scores = self.index.search(" ".join(words), 8 * n)
        hints: list[Hint] = []
        per_command: dict[str, int] = {}
        for i, score in zip(ids, scores):
            command, option, takes_value, text = self.entries[int(i)]
            # far below the best match it is a shared common word, and two hints of one command are enough
            if score < max(MIN_SCORE, RELATIVE_FLOOR * scores[0]) or per_command.get(command, 0) >= 2:
                continue
            per_command[command] = per_command.get(command, 0) + 1
            hints.append(Hint(command, option, takes_value, text, float(score)))
        return hints[:n]


_FINDERS: dict[int, tuple[CommandDB, _Finder]] = {}  # by id(db); the db is kept so its id is never reused


def find_hints(db: CommandDB, task: str, n: int = 4, names: Iterable[str] = ()) -> list[Hint]:
    """Up to ``n`` commands or options of ``db`` whose help reads closest to ``task``, best first; ``names`` (the
    design's modules and files) are left out of the match."""
    if id(db) not in _FINDERS:
        if len(_FINDERS) >= 4:
            _FINDERS.pop(next(iter(_FINDERS)))
        _FINDERS[id(db)] = (db, _Finder(db))
    return _FINDERS[id(db)][1].find(task, n, tuple(names))


KEY_MIN_SCORE = 12.0  # a key hint matches several of the task's rarer words ...
KEY_MARGIN = 1.3  # ... and scores this far ahead of every other command's best hint


def key_hint(hints: list[Hint]) -> Hint | None:
    """The hint the task most likely turns on (``hints`` best first): strong, and clearly ahead of every other
    command's; None when no hint stands out (then none is insisted on)."""
    if not hints or hints[0].score < KEY_MIN_SCORE:
        return None
    rival = next((h.score for h in hints[1:] if h.command != hints[0].command), 0.0)
    return hints[0] if hints[0].score >= KEY_MARGIN * rival else None


def _call(command: str) -> re.Pattern:
    # the command as a word of the line (also inside `tee -o f stat` or `equiv_opt ... opt`), not a file name
    return re.compile(rf"(?<![\w./$-]){re.escape(command)}(?![\w./-])")


def uses(script: str, hint: Hint) -> bool:
    """Whether a line of ``script`` calls the hint's command (with its option, for an option hint)."""
    call = _call(hint.command)
    for line in script.splitlines():
        code = line.split("#", 1)[0]
        m = call.search(code)
        if m and (not hint.option or re.search(rf"(?<!\S){re.escape(hint.option)}(?!\S)", code[m.end():])):
            return True
    return False


def add_flag(script: str, hint: Hint) -> tuple[str, list[str]]:
    """The key hint's flag added where the script calls its command without it (`write_blif out.blif` ->
    `write_blif -gates out.blif`); options that take a value are the model's to write."""
    if not hint.option or hint.takes_value or uses(script, hint):
        return script, []
    lines, fixes, call = script.split("\n"), [], _call(hint.command)
    for i, line in enumerate(lines):
        m = call.search(line.split("#", 1)[0])
        if m:
            lines[i] = f"{line[:m.end()]} {hint.option}{line[m.end():]}"
            fixes.append(f"line {i + 1}: `{hint.command}` -> `{hint.name}` (the task asks for what it does)")
    return "\n".join(lines), fixes


# Commands whose flags change what they act on rather than how: "the reset synchronizer" is not `design
# -reset`, "a soft-IP library" not `read_verilog -lib`, "list the flip-flops" not `select -list`.
_NOT_MODIFIED = ("read", "design", "select", "hierarchy", "rename", "setattr", "tee", "log", "echo", "help", "ls",
                 "cd", "script", "plugin", "delete")
# Words the task turns down: "keeping the hierarchy (do not flatten)", "without flattening", "no purge".
# ("nor" is left out: NOR is a gate here.) One word: "do not flatten", not "not flattened yet".
_NEGATED = re.compile(r"\b(?:not|no|don'?t|never|without|avoid(?:ing)?)\s+([a-z]+)", re.I)
# Passes a script can leave out when the task turns them down: nothing later depends on them.
_OPTIONAL_PASSES = ("flatten",)
_YOSYS_CALL = re.compile(r"(?:^|[\[;]|\s)yosys\s+([A-Za-z_]\w*)((?:\s+[^\s;\]]+)*)")


def named_flags(db: CommandDB, task: str, script: str, names: Iterable[str] = ()) -> list[Hint]:
    """Flags of the commands ``script`` calls that ``task`` names by their own name and the script lacks:
    "synthesize the UART flattened" with `yosys synth -top uart` gives `synth -flatten`.

    Engineers say an option's name when they want it ("flattened", "purge", "ASCII AIGER"); a small model
    copies the example closest to the task and drops the option. A word already met in the script's commands
    or options ("JSON" with `write_json`), a generic one, one of the design's own names, or one the task turns
    down ("do not flatten", "without flattening") asks for nothing."""
    skip = _GENERIC | set(terms(" ".join(names))) | refused(task)
    words = {w for w in terms(task) if w.isalpha() and len(w) >= 3 and w not in skip}
    calls = [(m.group(1), m.group(2).split()) for line in script.splitlines()
             for m in _YOSYS_CALL.finditer(line.split("#", 1)[0])]
    covered = set(terms(" ".join(f"{c} {' '.join(a for a in args if a.startswith('-'))}" for c, args in calls)))
    asked = words - covered
    hints: dict[str, Hint] = {}
    for command, _ in calls:
        spec = None if command.startswith(_NOT_MODIFIED) else db.get(command)
        for opt in spec.options if spec is not None else []:
            word = opt.name.lstrip("-")
            if not opt.takes_value and len(word) >= 3 and word.isalpha() and word.islower() \
                    and all(w in asked for w in terms(word) or ["-"]):
                hints.setdefault(f"{command} {opt.name}", Hint(command, opt.name, False, opt.description, 0.0))
    return list(hints.values())


def refused(task: str) -> set[str]:
    """The words ``task`` turns down, as :func:`assistant.tcl.cookbook.terms`: "keeping the hierarchy (do not
    flatten)" -> {"flatten"}; "without flattening" -> {"flatten"}. A word the task also uses outside a refusal
    ("it is not flattened yet, so flatten it") is not turned down."""
    negated = set(terms(" ".join(m.group(1) for m in _NEGATED.finditer(task))))
    return negated - set(terms(_NEGATED.sub(" ", task)))


def drop_refused(db: CommandDB, task: str, script: str) -> tuple[str, list[str]]:
    """The flags (without a value) and optional passes that ``task`` turns down by name taken out of ``script``:
    `synth -flatten -top cru` -> `synth -top cru` and a `flatten` line dropped for "keeping the hierarchy (do
    not flatten)". A small model copies the closest example's flags whatever the task says."""
    words = refused(task)
    if not words:
        return script, []
    lines, fixes, out = script.split("\n"), [], []
    for i, line in enumerate(lines):
        code = line.split("#", 1)[0]
        m = re.match(r"\s*yosys\s+(\w+)\s*$", code)
        if m and m.group(1) in _OPTIONAL_PASSES and set(terms(m.group(1))) <= words:
            fixes.append(f"line {i + 1}: `{line.strip()}` dropped (the task says not to)")
            continue
        for command, args in [(c.group(1), c.group(2).split()) for c in _YOSYS_CALL.finditer(code)]:
            spec = db.get(command)
            for arg in args if spec is not None else []:
                opt = spec.option(arg) if arg.startswith("-") else None
                word = arg.lstrip("-")
                if opt is not None and not opt.takes_value and word.isalpha() and set(terms(word)) <= words:
                    line = re.sub(rf"\s{re.escape(arg)}(?=\s|$)", "", line, count=1)
                    fixes.append(f"line {i + 1}: `{command} {arg}` dropped (the task says not to)")
        out.append(line)
    return "\n".join(out), fixes
