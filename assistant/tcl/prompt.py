"""The Tcl-generation prompt: the system message, worked examples, hints and commands, fitted to a token budget.

What goes in, in the order the fitting drops it last to first: the task, the design files and modules, two or
three cookbook recipes filled in for the user's design (:mod:`assistant.tcl.cookbook`), the options whose help
matches the task (:mod:`assistant.tcl.options`), more commands from the tool's database and, with references,
lines of retrieved team scripts and windows of documentation. :func:`fit` drops references, then commands, then
hints, then examples until the prompt (with any repair turns) fits the model's Tcl budget (:func:`budget`).

    view = DesignView.of(designs, task)
    messages = fit(llm, task, "yosys", view, relevant_commands(db, task, n=4), refs=[],
                   examples=examples_for("yosys", task, view), hints=find_hints(db, task))
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from assistant.tcl.commands import CommandDB, CommandSpec
from assistant.tcl.design import DesignView, read_line
from assistant.tcl.fixits import retarget_outputs
from assistant.tcl.library import site_cookbook
from assistant.tcl.options import Hint, for_flows
from assistant.types import Source

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
EXAMPLES = 3  # cookbook recipes shown per prompt: ~60 tokens each
HINTS = 3  # options (and commands) from the tool's help that match the task: ~30 tokens each
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")


def relevant_commands(db: CommandDB, text: str, n: int = 8) -> list[CommandSpec]:
    """The tool's core commands plus those whose names or summaries share the most words with ``text``."""
    words = {w.lower() for w in _WORD.findall(text)}
    scored = []
    for spec in db.commands.values():
        if not for_flows(spec.name):
            continue
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


def examples_for(tool: str, task: str, view: DesignView, n: int = EXAMPLES, library: Iterable[Path] = (),
                 secrets: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(task, script) of the cookbook recipes (and the site's ``library``, ``tcl.library``, scrubbed of
    ``secrets``: :mod:`assistant.tcl.library`) closest to ``task``, filled in with this design's read line,
    top and a submodule (:mod:`assistant.tcl.cookbook`)."""
    book = site_cookbook(tool, library, secrets)
    read = read_line(tool, view.needed or view.files)
    if book is None or read is None:
        return []
    top = view.tops[0] if view.tops else (view.modules[0] if view.modules else "top")
    sub = next((m for m in view.needed_modules + view.modules if m != top), top)
    # the examples write the files the task names, so what the model copies is already right
    return [(r.render_task(top), retarget_outputs(r.render(read, top, sub), view.outputs)[0])
            for r in book.search(task, n)]


def system_prompt(tool: str) -> str:
    """The system message for writing a ``tool`` script: constant per tool, so the llama.cpp backend
    evaluates it once at load (``LlamaCppBackend.warm``) instead of for every script."""
    return (f"You write short, correct Tcl scripts for {tool}. {_TOOL_RULES[tool]} Use only commands and "
            "options from the examples and the command list; never invent any. Write the shortest script that "
            "does exactly what the task asks: no extra commands. Use exactly the file names the task gives. "
            "Answer with one ```tcl code block and nothing else.")


def system_prompts() -> list[str]:
    """The system message of every tool (what :meth:`LlamaCppBackend.warm` evaluates at load)."""
    return [system_prompt(tool) for tool in _TOOL_RULES]


def build_prompt(task: str, tool: str, view: DesignView, specs: list[CommandSpec], refs: list[Source],
            examples: list[tuple[str, str]], hints: list[Hint] = ()) -> list[dict]:
    """The chat messages of a first request: the tool's system rules, then the task, the design's files and
    modules, worked examples (or the read line), commands, option hints, usage and documentation notes; no budget
    here (:func:`fit` drops parts until it fits)."""
    # the files the task's modules need, when it names one: shown the whole folder, the model read it all
    files = " ".join(view.needed if examples and view.needed else view.files) or "(none given)"
    modules, tops = view.modules, view.tops
    system = system_prompt(tool)
    parts = [f"Task: {task}", f"Design files (in the current directory): {files}"]
    if modules:
        parts.append(f"Modules: {', '.join(modules[:12])}" + (f"; top: {', '.join(tops[:3])}" if tops else ""))
    if examples:
        # Worked examples for this design, not a command list: shown a list, the 1.5B model wrote it out in
        # order for every task; shown examples, it adapts the closest one.
        parts.append("Examples for this design (adapt the closest one: output file names and options as the "
                     "task asks):\n" + "\n".join(f"```tcl\n# {t}\n{body}```" for t, body in examples))
    else:
        first = read_line(tool, view.needed or view.files)
        if first:
            parts.append(f"The script starts with:\n{first}")
    if specs:
        # A bullet list, not lines that look like a script: shown `cmd  # summary` lines, a small model wrote the
        # whole list out as its script.
        parts.append(f"More {tool} commands (pick only what the task needs; other options exist):\n"
                     + "\n".join("- " + brief(s, task, top=tops[0] if len(tops) == 1 else None).replace("  # ", ": ", 1)
                                  for s in specs))
    if hints:
        # The tool's own help for the options the task's words match: the small model does not know
        # `write_blif -gates` or `opt_clean -purge`, and the cookbook cannot show every option (bench/README.md).
        parts.append(f"Options from {tool}'s help that match the task's words (use one only where the task asks "
                     "for what it does):\n" + "\n".join(f"- {h.line()}" for h in hints))
    usage = usage_lines(refs, specs, tool)
    if usage:
        parts.append("Usage seen in this team's scripts:\n" + "\n".join(usage))
    notes = _doc_notes(refs, task)
    if notes:
        parts.append("Documentation:\n" + "\n".join(notes))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def budget(llm) -> int:
    """60% of the context, and on CPU backends their Tcl budget: ``default_tcl_prompt_tokens`` where the backend
    sets one (llamacpp: the 1,040 tokens the Tcl benchmarks were measured with), else 1.6x the Q&A prompt
    budget (the command list is long); 1.6x ``llm.prompt_tokens`` when the user set that."""
    ceiling = int(llm.context_tokens * 0.6)
    qa_budget = getattr(getattr(llm, "config", None), "prompt_tokens", None)
    if not qa_budget and getattr(llm, "default_tcl_prompt_tokens", None):
        return max(64, min(ceiling, llm.default_tcl_prompt_tokens))
    qa_budget = qa_budget or getattr(llm, "default_prompt_tokens", None)
    return max(64, min(ceiling, int(qa_budget * 1.6))) if qa_budget else max(64, ceiling)


def fit(llm, task, tool, view: DesignView, specs, refs, examples, repair: list[dict] | None = None,
        hints: list[Hint] = ()) -> list[dict]:
    """Drop retrieved references, then commands, then option hints (the weakest first), then examples (the last
    one goes last), until the prompt (with any repair turns) fits the model's budget."""
    limit = budget(llm)
    refs, specs, examples, hints = list(refs), list(specs), list(examples), list(hints)
    while True:
        messages = build_prompt(task, tool, view, specs, refs, examples, hints) + list(repair or [])
        if (llm.count_tokens("\n".join(m["content"] for m in messages)) <= limit
                or not (refs or specs or hints or examples[1:])):
            return messages
        for shrinking in (refs, specs, hints, examples):
            if shrinking and (shrinking is not examples or len(examples) > 1):
                shrinking.pop()
                break
