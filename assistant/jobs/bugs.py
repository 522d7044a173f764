"""The `bug_summary` job (the "Bug summary" chat profile, Slack `bug`), over :mod:`assistant.bugs`.

Files sent in its chat profile are bug exports, imported before the message's text is read.
"""
from __future__ import annotations

import re
from typing import Any

from assistant.jobs.base import Job, JobInputError, Upload, register
from assistant.jobs.render import inline, warnings_block
from assistant.types import BugSummary, BugSummaryRequest

KINDS = ("all", "technical", "managerial", "assignment")
EXPORT_HELP = ("A bug export is JSON lines or a JSON list (one bug per record with at least `id` and `title`), "
               "CSV with a header row, or a GitHub issues JSON export.")
_BUG_ID = re.compile(r"^[\w.#/-]{1,64}$")  # PICO-101, 1234, owner/repo#12


def _summarize(bot, req: BugSummaryRequest, groups) -> BugSummary:
    from assistant.bugs.summarize import summarize_bug

    return summarize_bug(bot, req.bug_id, kind=req.kind, bugs_file=req.bugs_file, user_groups=groups)


def _markdown(summary: BugSummary) -> str:
    body = "\n\n".join(f"### {name.title()}\n{section}" for name, section in summary.sections.items())
    return f"## {summary.bug_id}\n\n{body}{warnings_block(summary.warnings)}"


def _blocks(summary: BugSummary, source_url: str | None) -> str:
    from assistant.slack.format import format_bug

    return format_bug(summary)


def _request(text: str, uploads: list[Upload]) -> BugSummaryRequest:
    words = text.split()
    if not words:
        raise JobInputError("Give a bug ID (e.g. `PICO-101`, optionally followed by technical, managerial or "
                            "assignment) or upload a bug export (JSONL, CSV or GitHub issues JSON).")
    bug_id, kind = words[0], (words[1].lower() if len(words) > 1 else "all")
    if len(words) > 2 or not _BUG_ID.match(bug_id) or kind not in KINDS:
        raise JobInputError(f"`{inline(text[:80])}` is not a bug request. Send a bug ID such as `PICO-101`, "
                            f"optionally followed by one of {', '.join(KINDS)}; or upload a bug export.")
    return BugSummaryRequest(bug_id=bug_id, kind=kind)


def _record(summary: BugSummary) -> dict[str, Any]:
    # the ACL goes with the text, so `feedback export` never exports it to someone outside its groups
    return {"question": f"bug {summary.bug_id}", "text": "\n".join(summary.sections.values()),
            "backend": summary.backend, "model": summary.model, "acl": summary.acl}


def _import(bot, upload: Upload) -> str:
    """Import one uploaded export; the reply names the file as the user knows it (not the upload path)."""
    from corpora.bugs import BugExportError

    name = inline(upload.name)
    try:
        report = bot.bugs_import(upload.path)
    except BugExportError as e:
        return (f"**{name}** is not a bug export I can read: "
                f"{inline(str(e).replace(str(upload.path), upload.name))}\n\n{EXPORT_HELP}")
    problems = "".join(f"\n- {inline(p.replace(str(upload.path), upload.name))}" for p in report.problems[:10])
    more = f"\n- … and {len(report.problems) - 10} more" if len(report.problems) > 10 else ""
    if report.records == 0:
        return f"**{name}** has no bug records I can read, so nothing was imported.{problems}{more}\n\n{EXPORT_HELP}"
    return (f"Imported **{name}** ({report.format}): {report.inserted} new, {report.updated} updated, "
            f"{report.unchanged} unchanged; {report.total_in_store} bugs stored.{problems}{more}")


def _unknown(e: Exception, bot) -> str | None:
    """An unknown (or invisible) bug id: say so with the nearest ids, without the store's path."""
    if not isinstance(e, KeyError):
        return None
    bug_id = getattr(e, "bug_id", "")
    near = getattr(e, "near", None)
    if near:
        hint = "Did you mean " + ", ".join(f"`{inline(i)}`" for i in near) + "?"
    elif "no bugs in" in str(e):
        hint = f"No bugs are imported yet: upload a bug export in the Bug summary chat. {EXPORT_HELP}"
    else:
        hint = inline(str(e).replace(str(bot.settings.bugs_db), "the bug store"))
    return f"Unknown bug `{inline(bug_id)}`. {hint}"


BUG_SUMMARY = register(Job(
    name="bug_summary", title="Bug summary", mode="bug",
    description="Give a bug ID, or upload a bug export (JSONL, CSV, GitHub issues JSON) to import it.",
    request=BugSummaryRequest, result=BugSummary, run=_summarize,
    render_markdown=_markdown, render_blocks=_blocks, from_text=_request, feedback=_record,
    cli=("bugs", "summarize"), profile="Bug summary", slack_verb="bug",
    usage="bug ID [technical|managerial|assignment|all]", max_chars=4000,
    uploads="import", import_upload=_import, explain_error=_unknown,
))
