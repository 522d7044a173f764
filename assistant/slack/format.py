"""Render service results as Slack mrkdwn: answers with cited sources, Tcl scripts, bug summaries, help.

Each job's ``render_blocks`` (assistant.jobs) renders its result, mostly with the helpers here.

Slack caps a message at 40,000 characters and blocks at 3,000; we stay well under by trimming long
parts, since a rejected post would lose the whole answer.

Everything that comes from a document, a model, a bug export or a user goes through `escape` before it is
posted: Slack reads `<...>` as markup, so an indexed page holding `<!channel>` would ping a whole channel and
`<https://evil|the spec>` would show a disguised link. Only the markup this module builds itself (citation
links from `slack.source_url`, the requester's own mention) is left live.
"""
from __future__ import annotations

import re
from urllib.parse import quote

from assistant.types import Answer, BugSummary, Source, TclGeneration, split_context

MAX_TEXT = 3500
_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")
# With link_names on, Slack also pings on the bare words; a word joiner after "@" keeps them readable but inert.
_BARE_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.I)


def escape(text: str) -> str:
    """Make untrusted text inert in Slack mrkdwn: `&`, `<`, `>` escaped (so mentions such as `<!here>`,
    `<@U1>`, `<#C1>` and links `<url|label>` show as typed), and bare `@channel`/`@here`/`@everyone` broken."""
    text = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BARE_BROADCAST.sub("@\u2060\\1", text)


def clean_user_text(text: str) -> str:
    """Strip bot mentions and Slack's link markup (<http://x|label> -> label) from a user's message."""
    text = _MENTION.sub("", text or "")
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _trim(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 20].rstrip() + "\n…(truncated)"


def _source_link(s: Source, source_url: str) -> str:
    """The citation's link, from the `slack.source_url` template; the path is percent-quoted so it cannot
    close the link or add a label of its own."""
    url = source_url.format(path=quote(s.path, safe="/"), start=s.start_line, end=s.end_line or s.start_line)
    return url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C").replace(" ", "%20")


def source_line(s: Source, source_url: str | None = None) -> str:
    """One citation line: `[n] path — title (lines a-b)`, or `[n] path p. 12 — title` when the passage has a
    location (page, slide, sheet); the path links to `source_url` when one is set."""
    lines = f" (lines {s.start_line}-{s.end_line})" if s.end_line and not s.location else ""
    path = f"`{escape(s.path)}`"
    if source_url:
        path = f"<{_source_link(s, source_url)}|{escape(s.path)}>"
    at = f" {escape(s.location)}" if s.location else ""
    return f"[{s.n}] {path}{at} — {escape(s.title)}{lines}"


def _sources(sources: list[Source], source_url: str | None) -> str:
    # help and cookbook examples are not files: named on one line per kind, never linked
    passages, context = split_context(sources)
    lines = [source_line(s, source_url) for s in passages]
    lines += [f"{escape(where)}: " + ", ".join(f"[{s.n}] {escape(s.title)}" for s in group)
              for where, group in context.items()]
    return "*Sources*\n" + "\n".join(lines)


def format_answer(answer: Answer, source_url: str | None = None) -> str:
    """An answer, its numbered sources and its warnings; the answer text is escaped (see the module doc)."""
    parts = [escape(_trim(answer.text))]
    if answer.sources:
        parts.append(_sources(answer.sources, source_url))
    if answer.warnings:
        parts.append("_" + escape(" ".join(answer.warnings)) + "_")
    return "\n\n".join(parts)


def format_tcl(gen: TclGeneration, source_url: str | None = None) -> str:
    """A generated script in a code block, its check result and sources; all model/tool text escaped."""
    parts = []
    if gen.script:
        parts.append(f"```\n{escape(_trim(gen.script, 2500))}\n```")
        if gen.check is not None:
            status = "passed" if gen.check.ok else "FAILED"
            problems = [f"line {i.line}: {i.message}" for i in gen.check.syntax]
            problems += [f"line {i.line}: {i.problem} `{i.command}` {i.option or ''}".rstrip() for i in gen.check.lint]
            problems += [e.get("message", "") for e in gen.check.run.errors]
            parts.append(f"*Check ({escape(gen.tool)}):* {status}" +
                         ("\n" + escape("\n".join(problems[:10])) if problems else ""))
    if gen.message:
        parts.append(escape(gen.message))
    if gen.sources:
        parts.append(_sources(gen.sources, source_url))
    return "\n\n".join(parts) or "No script could be produced."


def format_bug(summary: BugSummary) -> str:
    """A bug summary by section and its suggested owners; bug text and names are escaped."""
    parts = [f"*Bug {escape(summary.bug_id)}*" + (" (deterministic digest, no LLM)" if summary.retrieval_only else "")]
    for name, text in summary.sections.items():
        parts.append(f"*{escape(name.capitalize())}*\n{escape(_trim(text, 1500))}")
    if summary.assignment:
        parts.append("*Suggested owners*\n" + "\n".join(
            f"{i}. {escape(c.owner)} ({c.score:.2f}): {escape('; '.join(c.reasons[:2]))}"
            for i, c in enumerate(summary.assignment[:5], 1)))
    return "\n\n".join(parts)


def help_text() -> str:
    """The bot's help: one `/chipassist VERB ...` usage per job with a Slack verb in the registry."""
    from assistant.jobs import slack_verbs

    usages = " · ".join(f"`/chipassist {job.usage}`" for job in slack_verbs().values() if job.usage)
    return ("Ask me about our designs, RTL and flows. In a channel mention me; in a DM just write.\n"
            f"{usages}\n"
            "React with :+1: or :-1: on my answers to tell the team whether they helped.")
