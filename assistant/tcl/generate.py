"""Tcl script generation: retrieve references, prompt the LLM, check the script, repair, repeat.

    gen = generate_script(bot, "synthesize uart.v and report the cell count", tool="yosys",
                          design=Path("uart.v"), rounds=2)
    gen.script, gen.check.ok, gen.rounds_used, gen.sources

The prompt carries (a) the entries of the tool's command database that look relevant (real option
names, so the model has no reason to invent them) and (b) retrieved documentation and example scripts.
Each round's check problems (syntax, lint, the tool's own errors with their lines) are fed back for up
to ``rounds`` repairs. With the `none` backend (``bot.llm is None``) no script is written: the result
carries the references and example scripts as sources, with a message saying so.

A generated script is the model's, not the user's, and the model may have copied a poisoned example:
one with ``unsafe`` findings (exec, sockets, writes outside the sandbox...) is never run unless the
caller passes ``run_unsafe=True`` (the user asked explicitly); the finding goes back to the model as a
problem to repair, and even an allowed run is confined.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from assistant.config import secret_values
from assistant.tcl.check import check_script, design_paths
from assistant.tcl.commands import CommandDB, CommandSpec, get_db
from assistant.tcl.unsafe import UNSAFE
from assistant.tcl.yosys_db import YosysNotFound
from assistant.types import CheckResult, Source, TclGeneration

# Commands nearly every flow needs, always offered to the model.
CORE = {
    "yosys": ["read_verilog", "hierarchy", "proc", "opt", "synth", "abc", "stat", "tee", "write_verilog",
              "write_json", "check"],
    "openroad": ["read_lef", "read_liberty", "read_verilog", "link_design", "initialize_floorplan", "place_pins",
                 "global_placement", "detailed_placement", "global_route", "detailed_route", "write_def"],
}
_TOOL_RULES = {
    "yosys": "yosys runs this file with `yosys -c`: call every yosys command as `yosys <command> ...` "
             "(for example `yosys synth -top top`), and plain Tcl for the rest.",
    "openroad": "OpenROAD runs this file as Tcl: call its commands directly (for example `global_route`).",
}
_BLOCK = re.compile(r"```(?:tcl)?[^\n]*\n(.*?)```", re.S)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")


def extract_script(text: str) -> str:
    """The ```tcl block of an answer (the first fenced block, or the whole text without one)."""
    m = _BLOCK.search(text)
    return (m.group(1) if m else text).strip() + "\n"


def relevant_commands(db: CommandDB, text: str, n: int = 8) -> list[CommandSpec]:
    """The tool's core commands plus those whose names or summaries share the most words with ``text``."""
    words = {w.lower() for w in _WORD.findall(text)}
    scored = []
    for spec in db.commands.values():
        name_parts = set(spec.name.lower().split("_")) | {spec.name.lower()}
        overlap = 3 * len(words & name_parts) + len(words & {w.lower() for w in _WORD.findall(spec.summary)})
        if overlap:
            scored.append((overlap, spec.name))
    names = [c for c in CORE.get(db.tool, []) if c in db.commands]
    names += [name for _, name in sorted(scored, key=lambda x: (-x[0], x[1])) if name not in names][:n]
    return [db.commands[name] for name in names]


def describe(spec: CommandSpec, max_options: int = 24) -> str:
    opts = " ".join(f"[{o.name}{' <value>' if o.takes_value else ''}]" if not o.required
                    else f"{o.name}{' <value>' if o.takes_value else ''}" for o in spec.options[:max_options])
    more = " ..." if len(spec.options) > max_options else ""
    return f"{spec.name} {opts}{more}".strip() + (f"  # {spec.summary}" if spec.summary else "")


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
                         score=float(hit.score), kind=c.kind, start_line=c.start_line, end_line=c.end_line)
        if src.kind in ("tcl", "docs", ""):
            sources.append(src)
    return [s.model_copy(update={"n": i + 1}) for i, s in enumerate(sources[:k])], ""


def _sandbox_names(designs: list[Path], limit: int = 20) -> list[str]:
    """The design files as the script sees them in the sandbox (a folder is copied whole, keeping its name)."""
    names: list[str] = []
    for p in designs:
        if p.is_dir():
            names += [f"{p.name}/{f.relative_to(p)}" for f in sorted(p.rglob("*")) if f.is_file()]
        else:
            names.append(p.name)
    return names[:limit]


def _prompt(task: str, tool: str, designs: list[Path], specs: list[CommandSpec], refs: list[Source]) -> list[dict]:
    files = ", ".join(_sandbox_names(designs)) or "(none given)"
    system = (f"You write short, correct Tcl scripts for {tool}. Use only the commands and options listed in the "
              f"command reference; never invent options. {_TOOL_RULES[tool]} The design files are in the "
              f"current directory: {files}. Answer with exactly one ```tcl code block.")
    reference = "\n".join(describe(s) for s in specs)
    examples = "\n\n".join(f"[{s.n}] {s.path} ({s.title}):\n{s.snippet}" for s in refs)
    user = f"Task: {task}\n\nCommand reference ({tool}):\n{reference}\n\nDocumentation and example scripts:\n{examples}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _fit(llm, task, tool, designs, specs, refs, repair: list[dict] | None = None) -> list[dict]:
    """Drop examples, then reference lines, until the prompt (with any repair turns) leaves room for the answer."""
    budget = max(64, int(llm.context_tokens * 0.6))
    refs, specs = list(refs), list(specs)
    while True:
        messages = _prompt(task, tool, designs, specs, refs) + list(repair or [])
        if llm.count_tokens("\n".join(m["content"] for m in messages)) <= budget or not (refs or specs):
            return messages
        if refs:
            refs.pop()
        else:
            specs.pop()


def problems_text(check: CheckResult, max_items: int = 12) -> str:
    """The check's findings as a list the model can act on."""
    lines = [f"- line {s.line}: syntax: {s.message}" for s in check.syntax]
    for i in check.lint:
        what = f"{i.problem.replace('_', ' ')}: {i.command}" + (f" {i.option}" if i.option else "")
        hint = i.suggestion if i.problem == UNSAFE else f"valid: {i.suggestion}"
        lines.append(f"- line {i.line}: {what}" + (f" ({hint})" if i.suggestion else ""))
    for e in check.run.errors:
        lines.append(f"- line {e.get('line') or '?'}: {check.run.tool} error: {e.get('message')}")
    return "\n".join(lines[:max_items]) + (f"\n- ... and {len(lines) - max_items} more" if len(lines) > max_items else "")


def generate_script(bot, task: str, *, tool: str = "yosys", design: Path | list[Path] | None = None,
                    rounds: int = 2, user_groups: Iterable[str] | None = None,
                    run_unsafe: bool = False) -> TclGeneration:
    """Write a checked Tcl script for ``task`` (see the module docstring). ``run_unsafe=True`` runs a
    script with unsafe findings too (in the sandbox): only when the user asked for it."""
    designs = design_paths(design)
    settings = getattr(bot, "settings", None)
    k = settings.retrieval.k if settings else 5
    data_dir = settings.data_dir if settings else None
    secrets = secret_values(settings) if settings else []
    refs, note = _retrieved_sources(bot, task, tool, user_groups, k)
    try:
        db = get_db(tool, data_dir)
        specs = relevant_commands(db, task + " " + " ".join(s.snippet for s in refs))
    except YosysNotFound as e:
        specs, note = [], f"{note}; {e}".strip("; ")
    sources = refs + _command_sources(specs, tool, len(refs) + 1)
    llm = bot.llm
    result = TclGeneration(task=task, tool=tool, sources=sources)
    if llm is None:
        result.retrieval_only = True
        result.message = ("No LLM backend is configured (`none`), so no script was written: here are the "
                          f"relevant {tool} command references and example scripts." + (f" ({note})" if note else ""))
        return result
    result.backend, result.model = llm.name, llm.model
    messages = _fit(llm, task, tool, designs, specs, refs)
    for attempt in range(rounds + 1):
        try:
            answer = llm.complete(messages)
        except Exception as e:  # the backend failed: return what we have, saying so
            result.message = f"the LLM failed in round {attempt}: {type(e).__name__}: {e}"
            return result
        result.script = extract_script(answer)
        result.check = check_script(result.script, tool=tool, design=designs, data_dir=data_dir,
                                    run_unsafe=run_unsafe, secrets=secrets)
        result.rounds_used = attempt
        if result.check.ok:
            break
        if attempt < rounds:  # only the latest script and its problems: earlier rounds would crowd the context
            repair = [{"role": "assistant", "content": f"```tcl\n{result.script}```"},
                      {"role": "user", "content": "The checker found these problems:\n" + problems_text(result.check)
                       + "\nReturn the corrected complete script in one ```tcl block."}]
            messages = _fit(llm, task, tool, designs, specs, refs, repair)
    status = "passed all checks" if result.check.ok else "still has problems (see check)"
    result.message = f"script {status} after {result.rounds_used} repair round(s)" + (f"; {note}" if note else "")
    return result
