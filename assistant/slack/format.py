"""Render service results as Slack mrkdwn: answers with cited sources, Tcl scripts, bug summaries.

Slack caps a message at 40,000 characters and blocks at 3,000; we stay well under by trimming long
parts, since a rejected post would lose the whole answer.
"""
from __future__ import annotations

import re

from assistant.types import Answer, BugSummary, Source, TclGeneration

MAX_TEXT = 3500
_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")


def clean_user_text(text: str) -> str:
    """Strip bot mentions and Slack's link markup (<http://x|label> -> label) from a user's message."""
    text = _MENTION.sub("", text or "")
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _trim(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 20].rstrip() + "\n…(truncated)"


def source_line(s: Source) -> str:
    lines = f" (lines {s.start_line}-{s.end_line})" if s.end_line else ""
    return f"[{s.n}] `{s.path}` — {s.title}{lines}"


def format_answer(answer: Answer) -> str:
    parts = [_trim(answer.text)]
    if answer.sources:
        parts.append("*Sources*\n" + "\n".join(source_line(s) for s in answer.sources))
    if answer.warnings:
        parts.append("_" + " ".join(answer.warnings) + "_")
    return "\n\n".join(parts)


def format_tcl(gen: TclGeneration) -> str:
    parts = []
    if gen.script:
        parts.append(f"```\n{_trim(gen.script, 2500)}\n```")
        if gen.check is not None:
            status = "passed" if gen.check.ok else "FAILED"
            problems = [f"line {i.line}: {i.message}" for i in gen.check.syntax]
            problems += [f"line {i.line}: {i.problem} `{i.command}` {i.option or ''}".rstrip() for i in gen.check.lint]
            problems += [e.get("message", "") for e in gen.check.run.errors]
            parts.append(f"*Check ({gen.tool}):* {status}" + ("\n" + "\n".join(problems[:10]) if problems else ""))
    if gen.message:
        parts.append(gen.message)
    if gen.sources:
        parts.append("*Sources*\n" + "\n".join(source_line(s) for s in gen.sources))
    return "\n\n".join(parts) or "No script could be produced."


def format_bug(summary: BugSummary) -> str:
    parts = [f"*Bug {summary.bug_id}*" + (" (deterministic digest, no LLM)" if summary.retrieval_only else "")]
    for name, text in summary.sections.items():
        parts.append(f"*{name.capitalize()}*\n{_trim(text, 1500)}")
    if summary.assignment:
        parts.append("*Suggested owners*\n" + "\n".join(
            f"{i}. {c.owner} ({c.score:.2f}): {'; '.join(c.reasons[:2])}" for i, c in enumerate(summary.assignment[:5], 1)))
    return "\n\n".join(parts)


HELP = ("Ask me about our designs, RTL and flows. In a channel mention me; in a DM just write.\n"
        "`/chipassist ask QUESTION` · `/chipassist tcl TASK [--tool yosys|openroad]` · "
        "`/chipassist bug ID [technical|managerial|assignment|all]`\n"
        "React with :+1: or :-1: on my answers to tell the team whether they helped.")
