"""Tcl script generation: worked examples for the task, the LLM, the checker, repairs.

    gen = generate_script(bot, "synthesize uart.v and report the cell count", tool="yosys",
                          design=Path("uart.v"), rounds=2)
    gen.script, gen.check.ok, gen.missing_outputs, gen.rounds_used, gen.sources

The prompt is kept short for small models on CPUs (every 100 prompt tokens cost ~1 s there): the task, the
design files the task needs (a module named by name, or by the description in its file's title comment), its
modules and top, two or three worked examples from the tool's cookbook (:mod:`assistant.tcl.cookbook`) filled
in with the user's own read line, top and the files the task names, the options and commands whose own help
matches the task's words (:mod:`assistant.tcl.options`), a few more commands from the tool's command database,
and, with ``references``, the lines of retrieved team scripts that use those commands and
the query-matching window of retrieved documentation (never whole flows of other designs, which small models
copy file names and procs from).
Each answer first gets the deterministic fix-its of :mod:`assistant.tcl.fixits` (prefixes, typos, the real
top, the task's file names, `-sv`); the problems left (syntax, lint, the tool's own errors with their lines,
the usage of the failing commands, files the task names that the run did not write, and files holding
another kind of output than the task's words ask for: :mod:`assistant.tcl.outputs`) go back to the model
with the numbered script. Rounds alternate: a repair, then (if the repaired script still fails) a fresh sample
of the first prompt at another seed, then a repair of that one, up to ``rounds``; when no round passes, the
script that got furthest is returned. When the model returns a script it already wrote, the next round
samples instead of asking the same question at temperature 0. Flags the task names by their own name
("flattened": `synth -flatten`) are added where the script calls their command. When one hint stands out (the
key hint: `opt_clean -purge` for "a purging clean-up"), a script that passes without it gets its flag added,
or goes back once asking for it; the passing script is kept if that round breaks it. With the `none` backend
(``bot.llm is None``) no script is written: the result carries the cookbook examples for the design, command
references and example scripts as sources, with a message saying so.

A generated script is the model's, not the user's, and the model may have copied a poisoned example:
one with ``unsafe`` findings (exec, sockets, writes outside the sandbox...) is never run unless the
caller passes ``run_unsafe=True`` (the user asked explicitly); the finding goes back to the model as a
problem to repair, and even an allowed run is confined.
"""
from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from assistant.config import secret_values
from assistant.tcl.check import check_script, design_paths
from assistant.tcl.commands import CommandDB, CommandSpec, get_db
from assistant.tcl.design import DesignView, read_line
from assistant.tcl.fixits import apply_fixits, collapse_loops, design_fixits, task_fixits
from assistant.tcl.outputs import expected_kinds, wrong_outputs
from assistant.tcl.options import Hint, add_flag, drop_refused, find_hints, key_hint, named_flags, uses
from assistant.tcl.prompt import CORE, HINTS, budget, describe, examples_for, fit, relevant_commands
from assistant.tcl.unsafe import UNSAFE
from assistant.tcl.yosys_db import YosysNotFound
from assistant.types import CheckResult, Source, TclGeneration

RESAMPLE_TEMPERATURE = 0.7  # a repair round after the model repeated a script samples at this temperature
# Retrieved docs and team scripts go into the prompt (by default) only for models with at least this Tcl prompt
# budget: on the CPU model's 1,040 they crowd out the examples and get copied (bench/README.md).
REFERENCES_BUDGET = 2000
# The first fenced block; a fence the model never closed (cut off by max_new_tokens) runs to the end.
_BLOCK = re.compile(r"```(?:tcl)?[^\n]*\n(.*?)(?:```|\Z)", re.S)


def extract_script(text: str) -> str:
    """The ```tcl block of an answer (the first fenced block, unclosed or not; the whole text without one)."""
    m = _BLOCK.search(text)
    return (m.group(1) if m else text).strip() + "\n"


def _command_sources(specs: list[CommandSpec], tool: str, start: int) -> list[Source]:
    return [Source(n=start + i, chunk_id=f"commands:{tool}:{s.name}", path=s.source or f"{tool} command database",
                   title=s.name, snippet=describe(s), score=1.0, kind="tcl")
            for i, s in enumerate(specs)]


def _retrieved_sources(bot, task: str, tool: str, user_groups, k: int) -> tuple[list[Source], str]:
    """Documentation and example scripts from the index; (sources, note when retrieval failed)."""
    try:
        hits = bot.search(f"{tool} Tcl script: {task}", k=2 * k, user_groups=user_groups)
    except Exception as e:  # no index yet, or it cannot be read: generation still works from the command DB
        return [], f"retrieval unavailable ({type(e).__name__}: {e})"
    sources: list[Source] = []
    for hit in hits:
        if isinstance(hit, Source):
            src = hit
        else:
            c = hit.chunk
            src = Source(n=0, chunk_id=c.id, path=c.source, title=c.title, snippet=c.text[:1500],
                         score=float(hit.score), kind=c.kind, start_line=c.start_line, end_line=c.end_line,
                         acl=list(c.acl), location=c.location)
        if src.kind in ("tcl", "docs", ""):
            sources.append(src)
    return [s.model_copy(update={"n": i + 1}) for i, s in enumerate(sources[:k])], ""


def _example_sources(examples: list[tuple[str, str]], tool: str, start: int) -> list[Source]:
    """The cookbook examples as sources: with the `none` backend they are the closest thing to a script."""
    return [Source(n=start + i, chunk_id=f"cookbook:{tool}:{i}", path=f"{tool} cookbook", title=title,
                   snippet=script, score=1.0, kind="tcl") for i, (title, script) in enumerate(examples)]


def _usage_help(script: str, check: CheckResult, db: CommandDB | None, tool: str, limit: int = 3) -> str:
    """The usage of the commands on the lines with problems, so a repair can pick a real option instead of
    inventing the next one."""
    if db is None:
        return ""
    lines = script.split("\n")
    flagged = [i.line for i in check.lint] + [e.get("line") for e in check.run.errors]
    names: list[str] = []
    for n in flagged:
        words = lines[n - 1].split() if isinstance(n, int) and 0 < n <= len(lines) else []
        if tool == "yosys" and words[:1] == ["yosys"]:
            words = words[1:]
        if words and db.get(words[0]) and words[0] not in names:
            names.append(words[0])
    if not names:
        return ""
    return "\n\nUsage of those commands:\n" + "\n".join(f"- {describe(db.get(n), 16)}" for n in names[:limit])


def fix_script(script: str, task: str, tool: str, view: DesignView, db: CommandDB | None,
               key: Hint | None = None) -> tuple[str, list[str], bool]:
    """``script`` with every deterministic fix-it applied, in order: a decoding loop cut, the command
    database's (prefixes, typos: the later fix-its read `yosys ...` lines, and a small model often writes none),
    the design's (top, read line), the task's (files, reports, no synthesis, `-sv`), the database's again for
    the lines those wrote, the flags the task turns down taken out, then the flags it names and the key hint's
    added. Returns (script, fixes, whether a loop was cut)."""
    script, fixes = collapse_loops(script)
    looped = bool(fixes)
    if db is not None:  # prefixes and typos first: the design's and the task's fix-its read `yosys ...` lines
        script, more = apply_fixits(script, db)
        fixes += more
    script, more = design_fixits(script, tool, view.modules, view.tops, read_line(tool, view.needed))
    fixes += more
    script, more = task_fixits(script, tool, view.outputs, task, db)
    fixes += more
    if db is not None:
        script, more = apply_fixits(script, db)
        fixes += more
        script, more = drop_refused(db, task, script)  # "do not flatten": `synth -flatten` -> `synth`
        fixes += more
        # the flags the task names by their own name ("flattened": `synth -flatten`), and the key hint's
        for flag in named_flags(db, task, script, view.modules + view.files) + ([key] if key is not None else []):
            script, more = add_flag(script, flag)
            fixes += more
    return script, fixes, looped


def _judge(gen: TclGeneration, tool: str, designs: list[Path], view: DesignView, kinds: dict[str, str], *,
           data_dir: Path | None = None, run_unsafe: bool = False, secrets: list[str] = ()) -> None:
    """Check ``gen.script`` (all three levels) and judge its files against the task: the ones it did not write
    and the ones holding another kind of output (the run's files are kept in a temporary folder for that, when
    the task names a file whose kind is known)."""
    with tempfile.TemporaryDirectory(prefix="chipassist-tcl-") as kept:
        gen.check = check_script(gen.script, tool=tool, design=designs, data_dir=data_dir, run_unsafe=run_unsafe,
                                 secrets=secrets, artifacts_dir=Path(kept) if kinds else None)
        gen.missing_outputs = missing_outputs(gen.check, view.outputs)
        gen.wrong_outputs = wrong_outputs(Path(kept), kinds) if gen.check.ok else []


def first_round(answer: str, task: str, tool: str, design: Path | list[Path] | None,
                data_dir: Path | None = None) -> TclGeneration:
    """A first ``answer`` to ``task`` as the loop's round 0 makes and judges it (the same fix-its, check and
    file judgement): ``passes(first_round(...))`` is whether the loop would stop there. ``bench/tcl_replay.py``
    replays recorded answers through it to measure a fix-it change without a model."""
    designs = design_paths(design)
    view = DesignView.of(designs, task)
    db = get_db(tool, data_dir)
    key = key_hint(find_hints(db, task, HINTS, names=view.modules + view.files))
    gen = TclGeneration(task=task, tool=tool, attempts=1)
    gen.script, gen.fixes, _ = fix_script(extract_script(answer), task, tool, view, db, key)
    _judge(gen, tool, designs, view, expected_kinds(task, view.outputs), data_dir=data_dir)
    return gen


def _progress(gen: TclGeneration) -> tuple:
    """How far a failing script got, to return the best of several: clean runs first (fewest missing files),
    then the fewest syntax and lint problems, then the latest line of its first problem (what came before
    it is right)."""
    check = gen.check
    if check is None:
        return (False, 0, 0, 0)
    lines = [i.line for i in [*check.syntax, *check.lint] if i.line] + [
        e["line"] for e in (check.run.errors if check.run else []) if e.get("line")]
    return (check.ok, -len(gen.missing_outputs) - len(gen.wrong_outputs), -(len(check.syntax) + len(check.lint)),
            min(lines, default=0))


def passes(gen: TclGeneration) -> bool:
    """Whether a generated script is done: every check level passed, and every file the task names was
    written and holds what the task asks (:mod:`assistant.tcl.outputs`)."""
    return gen.check is not None and gen.check.ok and not gen.missing_outputs and not gen.wrong_outputs


def numbered(script: str) -> str:
    """``script`` with right-aligned line numbers, so the model can act on "line N" findings."""
    return "\n".join(f"{i:>3}| {line}" for i, line in enumerate(script.rstrip("\n").split("\n"), 1))


def missing_outputs(check: CheckResult, outputs: list[str]) -> list[str]:
    """The task's files (``outputs``, from :func:`assistant.tcl.fixits.task_paths`) that the script's run did
    not write (the task's own check, after the tool's: a script that runs clean but writes `dma.json` where
    `out/dma.json` was asked for has not done the task). Only for a script that ran; patterns
    (`out/${module}.v`) are not checked."""
    if not check.run.ran or not check.run.ok:
        return []
    made = {a.lstrip("/").removeprefix("./") for a in check.run.artifacts}
    return [p for p in outputs if "$" not in p and p.removeprefix("./") not in made]


def problems_text(check: CheckResult, missing: list[str] = (), max_items: int = 12, wrong: list[str] = ()) -> str:
    """The check's findings, the task's files the run did not write and those holding the wrong kind of output,
    as a list the model can act on."""
    lines = [f"- line {s.line}: syntax: {s.message}" for s in check.syntax]
    for i in check.lint:
        what = f"{i.problem.replace('_', ' ')}: {i.command}" + (f" {i.option}" if i.option else "")
        hint = i.suggestion if i.problem == UNSAFE else f"valid: {i.suggestion}"
        lines.append(f"- line {i.line}: {what}" + (f" ({hint})" if i.suggestion else ""))
    for e in check.run.errors:
        lines.append(f"- line {e.get('line') or '?'}: {check.run.tool} error: {e.get('message')}")
    lines += [f"- the task asks for the file {p}, but the script did not write it" for p in missing]
    lines += [f"- {w}" for w in wrong]
    return "\n".join(lines[:max_items]) + (f"\n- ... and {len(lines) - max_items} more" if len(lines) > max_items else "")


def generate_script(bot, task: str, *, tool: str = "yosys", design: Path | list[Path] | None = None,
                    rounds: int = 2, user_groups: Iterable[str] | None = None,
                    references: bool | None = None, run_unsafe: bool = False) -> TclGeneration:
    """Write a checked Tcl script for ``task`` (see the module docstring).

    Each model answer first gets the deterministic fix-its (:mod:`assistant.tcl.fixits`); only what they
    cannot settle goes back to the model, with the exact problems and the numbered script, for up to
    ``rounds`` repairs. Retrieved documentation and team scripts are always returned as sources;
    ``references`` decides whether they also go into the prompt: None (default) only for a model whose Tcl
    prompt budget is at least ``REFERENCES_BUDGET`` tokens (the 1.5B CPU model copied their procs and names
    into unrelated tasks and passed fewer tasks with them: bench/README.md), True or False to force it.
    ``run_unsafe=True`` runs a script with unsafe findings too (in the sandbox): only when the user asked for it.
    """
    designs = design_paths(design)
    settings = getattr(bot, "settings", None)
    k = settings.retrieval.k if settings else 5
    data_dir = settings.data_dir if settings else None
    secrets = secret_values(settings) if settings else []
    refs, note = _retrieved_sources(bot, task, tool, user_groups, k)
    llm = bot.llm
    if references is None:
        references = llm is not None and budget(llm) >= REFERENCES_BUDGET
    prompt_refs = refs if references else []
    view = DesignView.of(designs, task)
    try:
        examples = examples_for(tool, task, view, library=settings.tcl.library if settings else (), secrets=secrets)
    except (OSError, ValueError) as e:  # a broken library file must not stop every script: the cookbook alone
        examples = examples_for(tool, task, view)
        note = f"{note}; tcl.library not used: {e}".strip("; ")
    db = None
    hints: list[Hint] = []
    try:
        db = get_db(tool, data_dir)
        specs = relevant_commands(db, task + " " + " ".join(s.snippet for s in (prompt_refs if llm else refs)), n=4)
        hints = find_hints(db, task, HINTS, names=view.modules + view.files)  # output names say the format
    except YosysNotFound as e:
        specs, note = [], f"{note}; {e}".strip("; ")
    sources = refs + _command_sources(specs, tool, len(refs) + 1)
    sources += _example_sources(examples, tool, len(sources) + 1)
    sources += [Source(n=len(sources) + 1 + i, chunk_id=f"help:{tool}:{h.command}:{h.option}", path=f"{tool} help",
                       title=h.name, snippet=h.line(), score=h.score, kind="tcl")
                for i, h in enumerate(hints)]  # with `none`, the options that do what was asked
    result = TclGeneration(task=task, tool=tool, sources=sources)
    if llm is None:
        result.retrieval_only = True
        result.message = ("No LLM backend is configured (`none`), so no script was written: here are the "
                          f"relevant {tool} command references, cookbook examples for your design and example "
                          "scripts." + (f" ({note})" if note else ""))
        return result
    result.backend, result.model = llm.name, llm.model
    if examples:  # the core commands are in the examples; listed again, a small model wrote the list out
        specs = [s for s in specs if s.name not in CORE.get(tool, [])]
    # a command hinted with its help need not be listed again
    specs = [s for s in specs if not any(h.command == s.name and not h.option for h in hints)]
    base = fit(llm, task, tool, view, specs, prompt_refs, examples, hints=hints)
    messages, seen = base, set()
    temperature, seed = None, None  # the configured temperature (0 in the benches) until a round samples
    key = key_hint(hints)
    kinds = expected_kinds(task, view.outputs)
    passed: TclGeneration | None = None  # a script that passed every check, kept while the model adds the key hint
    best: TclGeneration | None = None  # the failing script that got furthest, returned if no round passes
    for attempt in range(rounds + 1):
        try:
            answer = llm.complete(messages, temperature=temperature, seed=seed)
        except Exception as e:  # the backend failed: return what we have, saying so
            result.message = f"the LLM failed in round {attempt}: {type(e).__name__}: {e}"
            return result
        result.attempts = attempt + 1
        script, fixes, looped = fix_script(extract_script(answer), task, tool, view, db, key)
        result.fixes += [f"round {attempt}, {f}" for f in fixes]
        result.script = script
        _judge(result, tool, designs, view, kinds, data_dir=data_dir, run_unsafe=run_unsafe, secrets=secrets)
        result.rounds_used = attempt
        done = passes(result)
        if passed is not None and not done:  # asked for the key hint, the model broke a passing script
            result = passed.model_copy(update={"attempts": result.attempts, "fixes": result.fixes})
            note = f"{note}; kept the script of round {result.rounds_used}: adding `{key.name}` broke it".strip("; ")
            break
        # A script that passes but leaves out what the task turns on (the key hint: `opt_clean -purge` for "a
        # purging clean-up") goes back once, naming the option and its help; the passing script is kept.
        lacks_key = done and key is not None and passed is None and not uses(script, key)
        if done and not (lacks_key and attempt < rounds):
            break
        if not done and (best is None or _progress(result) > _progress(best)):
            best = result.model_copy(deep=True)
        # Asked to fix a script, a small model often returns it unchanged; at temperature 0 it would do so
        # every round. A repeat makes the next round sample instead, so each round tries something new.
        # A decoding loop is the same trap: at temperature 0 the next round would walk into it again.
        temperature = RESAMPLE_TEMPERATURE if script in seen or looped else None
        seed = None
        seen.add(script)
        if lacks_key:
            passed = result.model_copy(deep=True)
            repair = [{"role": "assistant", "content": f"```tcl\n{result.script}```"},
                      {"role": "user", "content": f"The script runs clean, but the task asks for what `{key.name}` "
                       f"does ({key.short}), and the script does not use it. Add it where it "
                       "belongs and return the whole corrected script in one ```tcl block."}]
            messages = fit(llm, task, tool, view, specs, prompt_refs, examples, repair, hints)
        elif attempt % 2 == 1:
            # A repaired script that still fails: the next round is a fresh sample of the first prompt. The
            # 1.5B model rarely repairs a script that went wrong at its start, and a new sample often starts
            # right; llama.cpp reuses the start it shares with the last prompt, so it costs mostly decoding.
            messages, temperature, seed = base, RESAMPLE_TEMPERATURE, attempt + 1
        elif attempt < rounds:  # only the latest script and its problems: earlier rounds would crowd the context
            repair = [{"role": "assistant", "content": f"```tcl\n{result.script}```"},
                      {"role": "user", "content": "The checker ran this script:\n" + numbered(result.script)
                       + "\n\nProblems:\n"
                       + problems_text(result.check, result.missing_outputs, wrong=result.wrong_outputs)
                       + _usage_help(result.script, result.check, db, tool)
                       + "\n\nFix exactly these problems and return the whole corrected script in one ```tcl block."}]
            messages = fit(llm, task, tool, view, specs, prompt_refs, examples, repair, hints)
    if best is not None and not passes(result) and _progress(best) > _progress(result):
        result = best.model_copy(update={"attempts": result.attempts, "fixes": result.fixes})
    status = ("passed all checks" if passes(result)
              else f"ran clean but did not write {', '.join(result.missing_outputs)}"
              if result.check.ok and result.missing_outputs
              else f"ran clean but {'; '.join(result.wrong_outputs)}" if result.check.ok and result.wrong_outputs
              else "still has problems (see check)")
    if key is not None and result.check.ok and not uses(result.script, key):
        note = f"{note}; the task seems to ask for `{key.name}`, which the script does not use".strip("; ")
    fixed = f", {len(result.fixes)} deterministic fix(es)" if result.fixes else ""
    result.message = (f"script {status} after {result.rounds_used} repair round(s){fixed}"
                      + (f"; {note}" if note else ""))
    return result
