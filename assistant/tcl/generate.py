"""Tcl script generation: retrieve references, prompt the LLM, check the script, repair, repeat.

    gen = generate_script(bot, "synthesize uart.v and report the cell count", tool="yosys",
                          design=Path("uart.v"), rounds=2)
    gen.script, gen.check.ok, gen.rounds_used, gen.sources

The prompt is kept short for small models on CPUs (every 100 prompt tokens cost ~1 s there): the task, the
design files as the sandbox has them with their modules and likely top, the entries of the tool's command
database that look relevant (real option names, so the model has no reason to invent them), the lines of
retrieved example scripts that use those commands (not whole flows of other designs, which small models copy
file names and variables from), the query-matching window of retrieved documentation, and the script's first
line, which reads the user's own files (a small model copies whatever example it is shown, so the only
example is the user's own).
Each answer first gets the deterministic fix-its of :mod:`assistant.tcl.fixits`; the problems left (syntax,
lint, the tool's own errors with their lines) go back to the model with the numbered script, for up to
``rounds`` repairs. With the `none` backend (``bot.llm is None``) no script is written: the result
carries the references and example scripts as sources, with a message saying so.

A generated script is the model's, not the user's, and the model may have copied a poisoned example:
one with ``unsafe`` findings (exec, sockets, writes outside the sandbox...) is never run unless the
caller passes ``run_unsafe=True`` (the user asked explicitly); the finding goes back to the model as a
problem to repair, and even an allowed run is confined.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
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
# The first fenced block; a fence the model never closed (cut off by max_new_tokens) runs to the end.
_BLOCK = re.compile(r"```(?:tcl)?[^\n]*\n(.*?)(?:```|\Z)", re.S)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")


def extract_script(text: str) -> str:
    """The ```tcl block of an answer (the first fenced block, unclosed or not; the whole text without one)."""
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


def brief(spec: CommandSpec, task: str, max_options: int = 4, top: str | None = None) -> str:
    """One short line for the prompt: the command, the options the task's words point at (and required ones),
    then its summary. Listing every option made a small model paste them all into its script."""
    words = {w.lower() for w in _WORD.findall(task)}
    picked = [o for o in spec.options if o.required or o.name.lstrip("-").lower() in words
              or (o.name == "-top" and spec.name in ("synth", "hierarchy")) or (o.name == "-o" and spec.name == "tee")
              ][:max_options]
    opts = " ".join(f"{o.name}{(' ' + top if o.name == '-top' and top else ' <value>') if o.takes_value else ''}"
                    for o in picked)
    return f"{spec.name} {opts}".strip() + (f"  # {spec.summary}" if spec.summary else "")


def describe(spec: CommandSpec, max_options: int = 24) -> str:
    """A command as one usage line for the prompt: required options bare, optional ones in brackets."""
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
                         score=float(hit.score), kind=c.kind, start_line=c.start_line, end_line=c.end_line,
                         acl=list(c.acl), location=c.location)
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


_MODULE = re.compile(r"^\s*module\s+([A-Za-z_]\w*)", re.M)
_HDL = {".v", ".sv", ".vh", ".svh"}


def _hdl_files(designs: list[Path]) -> dict[str, str]:
    """Sandbox name -> text of every HDL file in the design (as :func:`_sandbox_names` names them)."""
    texts: dict[str, str] = {}
    for p in designs:
        for f in ([p] if p.is_file() else sorted(p.rglob("*"))):
            if f.is_file() and f.suffix in _HDL and f.stat().st_size < 2_000_000:
                name = f.name if p.is_file() else f"{p.name}/{f.relative_to(p)}"
                texts[name] = f.read_text(encoding="utf-8", errors="replace")
    return texts


def _instantiates(text: str, module: str) -> bool:
    return bool(re.search(rf"^\s*{re.escape(module)}\s*(#\s*\(|[A-Za-z_]\w*\s*\()", text, re.M))


def design_modules(designs: list[Path], task: str = "") -> tuple[list[str], list[str], list[str]]:
    """(modules defined in the design, likely tops, the files the task needs).

    A module the task names (and what it instantiates, transitively) picks the files to read and the top:
    "synthesize the UART (uart ...)" on a whole rtl/ folder reads uart.v, uart_tx.v and uart_rx.v with top
    `uart`, not all nine files with the SoC top. With no module named, every file is read and the tops are the
    modules nothing instantiates."""
    texts = _hdl_files(designs)
    defined = {name: _MODULE.findall(text) for name, text in texts.items()}
    modules = [m for ms in defined.values() for m in ms]
    home = {m: name for name, ms in defined.items() for m in ms}
    words = {w.lower() for w in _WORD.findall(task)}
    named = [m for m in modules if m.lower() in words]
    if not named:
        used = {m for m in modules if any(_instantiates(t, m) for t in texts.values())}
        return modules, [m for m in modules if m not in used], list(texts)
    needed, todo = set(), list(named)
    while todo:
        m = todo.pop()
        if m in needed:
            continue
        needed.add(m)
        todo += [x for x in modules if x not in needed and _instantiates(texts[home[m]], x)]
    tops = [m for m in named if not any(_instantiates(texts[home[o]], m) for o in needed if o != m)]
    files = [name for name in texts if any(m in needed for m in defined[name])]
    # packages and headers the needed files import (`import pkg::*`) come along
    files += [name for name in texts if name not in files and any(
        re.search(rf"\b{re.escape(m)}::", texts[f]) for f in files for m in defined[name])]
    return modules, tops, files


def read_line(tool: str, names: list[str]) -> str | None:
    """The command that reads the user's HDL files, as the script should start. Small models copy any example
    they are shown, file names included, so the one example given is the user's own first line."""
    hdl = [n for n in names if Path(n).suffix in _HDL and not Path(n).suffix.endswith("h")]
    if tool != "yosys" or not hdl:
        return None
    sv = " -sv" if any(n.endswith(".sv") for n in hdl) else ""
    return f"yosys read_verilog{sv} {' '.join(hdl)}"


_PATHY = re.compile(r"\$|::env|[\w.-]+/[\w./-]+|\.(?:v|sv|json|lef|lib|def|blif|edif)\b")


def usage_lines(refs: list[Source], specs: list[CommandSpec], tool: str, limit: int = 10) -> list[str]:
    """Lines of the retrieved example scripts that use the offered commands, minus file names and variables
    of other designs: the model sees how options are used, not a flow to copy."""
    names = {s.name for s in specs}
    seen, out = set(), []
    for ref in refs:
        if ref.kind != "tcl":
            continue
        for line in ref.snippet.splitlines():
            text = line.strip()
            words = text.split()
            if not words or text.startswith("#") or _PATHY.search(text):
                continue
            cmd = words[1] if tool == "yosys" and words[0] == "yosys" and len(words) > 1 else words[0]
            if cmd in names and text not in seen:
                seen.add(text)
                out.append(text)
    return out[:limit]


def _doc_notes(refs: list[Source], task: str, chars: int = 280) -> list[str]:
    """The query-matching window of each retrieved documentation passage (not whole chunks)."""
    from assistant.qa import make_snippet

    return [f"[{s.n}] {s.title}: {make_snippet(s.snippet, task, chars)}" for s in refs if s.kind != "tcl"]


@dataclass(frozen=True)
class DesignView:
    """What the prompt and the fix-its know of the design, read once per generation (not per prompt fit)."""

    files: list[str]  # as the sandbox names them
    modules: list[str]
    tops: list[str]
    needed: list[str]  # the files the task's modules need

    @classmethod
    def of(cls, designs: list[Path], task: str) -> "DesignView":
        """What the script may read from ``designs``: the file names in the sandbox, modules, tops and
        the files the task's modules need."""
        modules, tops, needed = design_modules(designs, task)
        return cls(_sandbox_names(designs), modules, tops, needed)


def system_prompt(tool: str) -> str:
    """The system message for writing a ``tool`` script: constant per tool, so the llama.cpp backend
    evaluates it once at load (``LlamaCppBackend.warm``) instead of for every script."""
    return (f"You write short, correct Tcl scripts for {tool}. {_TOOL_RULES[tool]} Use only commands and "
            "options from the command list; never invent any. Write the shortest script that does exactly what "
            "the task asks: no extra commands. Use exactly the file names given. Answer with one ```tcl code "
            "block and nothing else.")


def system_prompts() -> list[str]:
    """The system message of every tool (what :meth:`LlamaCppBackend.warm` evaluates at load)."""
    return [system_prompt(tool) for tool in _TOOL_RULES]


def _prompt(task: str, tool: str, view: DesignView, specs: list[CommandSpec], refs: list[Source]) -> list[dict]:
    files = " ".join(view.files) or "(none given)"
    modules, tops = view.modules, view.tops
    system = system_prompt(tool)
    parts = [f"Task: {task}", f"Design files (in the current directory): {files}"]
    if modules:
        parts.append(f"Modules: {', '.join(modules[:12])}" + (f"; top: {', '.join(tops[:3])}" if tops else ""))
    first = read_line(tool, view.needed or view.files)
    if first:
        parts.append(f"The script starts with:\n{first}")
    # A bullet list, not lines that look like a script: shown `cmd  # summary` lines, a small model wrote the
    # whole list out as its script.
    parts.append(f"Available {tool} commands (pick only what the task needs; other options exist):\n"
                 + "\n".join("- " + brief(s, task, top=tops[0] if len(tops) == 1 else None).replace("  # ", ": ", 1)
                              for s in specs))
    usage = usage_lines(refs, specs, tool)
    if usage:
        parts.append("Usage seen in this team's scripts:\n" + "\n".join(usage))
    notes = _doc_notes(refs, task)
    if notes:
        parts.append("Documentation:\n" + "\n".join(notes))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def _budget(llm) -> int:
    """60% of the context, and on CPU backends 1.6x their Q&A prompt budget (the command list is long; 1.6 x
    llamacpp's 650 is the 1,040 tokens this job had when the Q&A budget was 800 and the factor 1.3)."""
    config = getattr(llm, "config", None)
    small = getattr(config, "prompt_tokens", None) or getattr(llm, "default_prompt_tokens", None)
    return max(64, min(int(llm.context_tokens * 0.6), int(small * 1.6) if small else 10**9))


def _fit(llm, task, tool, view: DesignView, specs, refs, repair: list[dict] | None = None) -> list[dict]:
    """Drop examples, then reference lines, until the prompt (with any repair turns) fits the model's budget."""
    budget = _budget(llm)
    refs, specs = list(refs), list(specs)
    while True:
        messages = _prompt(task, tool, view, specs, refs) + list(repair or [])
        if llm.count_tokens("\n".join(m["content"] for m in messages)) <= budget or not (refs or specs):
            return messages
        if refs:
            refs.pop()
        else:
            specs.pop()


def numbered(script: str) -> str:
    """``script`` with right-aligned line numbers, so the model can act on "line N" findings."""
    return "\n".join(f"{i:>3}| {line}" for i, line in enumerate(script.rstrip("\n").split("\n"), 1))


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
                    references: bool = True, run_unsafe: bool = False) -> TclGeneration:
    """Write a checked Tcl script for ``task`` (see the module docstring).

    Each model answer first gets the deterministic fix-its (:mod:`assistant.tcl.fixits`); only what they
    cannot settle goes back to the model, with the exact problems and the numbered script, for up to
    ``rounds`` repairs. ``references=False`` leaves retrieved documentation and scripts out of the prompt
    (the command list stays), for measuring what retrieval adds. ``run_unsafe=True`` runs a script with
    unsafe findings too (in the sandbox): only when the user asked for it.
    """
    from assistant.tcl.fixits import apply_fixits, design_fixits

    designs = design_paths(design)
    settings = getattr(bot, "settings", None)
    k = settings.retrieval.k if settings else 5
    data_dir = settings.data_dir if settings else None
    secrets = secret_values(settings) if settings else []
    refs, note = _retrieved_sources(bot, task, tool, user_groups, k) if references else ([], "")
    db = None
    try:
        db = get_db(tool, data_dir)
        specs = relevant_commands(db, task + " " + " ".join(s.snippet for s in refs), n=4)
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
    view = DesignView.of(designs, task)
    messages = _fit(llm, task, tool, view, specs, refs)
    for attempt in range(rounds + 1):
        try:
            answer = llm.complete(messages)
        except Exception as e:  # the backend failed: return what we have, saying so
            result.message = f"the LLM failed in round {attempt}: {type(e).__name__}: {e}"
            return result
        result.attempts = attempt + 1
        script = extract_script(answer)
        script, fixes = design_fixits(script, tool, view.modules, view.tops)
        if db is not None:
            script, more = apply_fixits(script, db)
            fixes += more
        result.fixes += [f"round {attempt}, {f}" for f in fixes]
        result.script = script
        result.check = check_script(result.script, tool=tool, design=designs, data_dir=data_dir,
                                    run_unsafe=run_unsafe, secrets=secrets)
        result.rounds_used = attempt
        if result.check.ok:
            break
        if attempt < rounds:  # only the latest script and its problems: earlier rounds would crowd the context
            repair = [{"role": "assistant", "content": f"```tcl\n{result.script}```"},
                      {"role": "user", "content": "The checker ran this script:\n" + numbered(result.script)
                       + "\n\nProblems:\n" + problems_text(result.check)
                       + "\n\nFix exactly these problems and return the whole corrected script in one ```tcl block."}]
            messages = _fit(llm, task, tool, view, specs, refs, repair)
    status = "passed all checks" if result.check.ok else "still has problems (see check)"
    fixed = f", {len(result.fixes)} deterministic fix(es)" if result.fixes else ""
    result.message = (f"script {status} after {result.rounds_used} repair round(s){fixed}"
                      + (f"; {note}" if note else ""))
    return result
