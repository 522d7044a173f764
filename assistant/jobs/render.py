"""Markdown pieces the jobs' ``render_markdown`` share: sources, warnings, a Tcl check, quoted user text.

The chat page renders Markdown; the CLI prints it as text. Passages and user text are shown, never rendered
as markup of their own: snippets stay out of the Markdown body (they are listed by path and title), user
text quoted inline loses its backticks, and '#' lines of quoted passages are escaped so they do not turn
into giant headings.
"""
from __future__ import annotations

import re

from assistant.types import CheckResult, Source, split_context

_HEADING = re.compile(r"(?m)^(\s*)#")


def inline(text: str) -> str:
    """User-supplied text quoted inside a reply: one line, no backticks (it is shown, never rendered)."""
    return " ".join(text.replace("`", "'").split())


def no_headings(text: str) -> str:
    """``text`` with its Markdown '#' lines escaped (quoted passages must not render as headings)."""
    return _HEADING.sub(r"\1\\#", text)


def sources_footer(sources: list[Source]) -> str:
    """"**Sources**" and one "- [n] path — title" line per passage, the path with its page/slide/sheet when it has
    one ("- [2] docs/spec.pdf p. 12 — DMA"), then one line per kind of context a Tcl script was written from
    ("- yosys help: [3] synth, [4] stat"); "" when there are none."""
    if not sources:
        return ""
    passages, context = split_context(sources)
    lines = [f"- [{s.n}] {s.where(lines=False)} — {s.title}" for s in passages]
    lines += [f"- {where}: " + ", ".join(f"[{s.n}] {s.title}" for s in group) for where, group in context.items()]
    return "\n\n**Sources**\n" + "\n".join(lines)


def warnings_block(warnings: list[str]) -> str:
    """Each warning as a quoted "⚠" paragraph."""
    return "".join(f"\n\n> ⚠ {w}" for w in warnings)


def check_text(check: CheckResult | None) -> str:
    """A Tcl check result as a Markdown list: status, syntax and lint findings, the run's errors."""
    if check is None:
        return ""
    lines = [f"**Check: {'passed ✅' if check.ok else 'failed ❌'}**"]
    lines += [f"- line {i.line}: syntax: {i.message}" for i in check.syntax]
    lines += [f"- line {i.line}: `{inline(i.command)}`: {i.problem}" + (
        "" if not i.suggestion else f" ({inline(i.suggestion)})" if i.problem == "unsafe"
        else f" (did you mean: {inline(i.suggestion)})") for i in check.lint]
    run = check.run
    if run.ran:
        lines.append(f"- ran with {run.tool}: {'ok' if run.ok else 'errors'}")
        lines += [f"  - line {e.get('line')}: {e.get('message')}" for e in run.errors]
    elif run.skipped_reason:
        lines.append(f"- not run: {run.skipped_reason}")
    return "\n".join(lines)


def too_long(n: int, limit: int, what: str) -> str:
    """The reply to a message over a job's limit: its size, the limit, and that nothing was run."""
    return f"That message is {n:,} characters; {what} can be at most {limit:,}. Nothing was sent to the assistant."
