"""The `explain_log` job: paste or upload a tool log (yosys, OpenROAD, any EDA tool), get its errors and
warnings grouped, the documentation for each, and an explanation citing it.

    chipassist explain-log build/yosys.log            # CLI (the argument is a file; '-' reads stdin)
    "Explain log" chat profile (paste or upload) · Slack: `/chipassist log <pasted log>`
    bot.run("explain_log", {"log": text}, user_groups={"soc-team"})

Secrets are scrubbed from the log before anything else reads it (the server's own keys and tokens, and
key-shaped strings: `corpora.curate.scrub_secrets`); a log over MAX_LOG_CHARS is refused with a message
saying how to pass the relevant part. Each distinct message (:mod:`assistant.logs.parse`) is searched for
with its ID and text, with the caller's groups applied; with no LLM the answer is a retrieval-only digest
(each message with its [n] documents), with one the Q&A prompt and citation checks write an explanation
citing [n] (`assistant.qa.answer_from_hits`).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from assistant.jobs.base import Job, JobInputError, Upload, register
from assistant.jobs.render import inline, no_headings, sources_footer, too_long, warnings_block
from assistant.logs.parse import LogIssue, parse_log
from assistant.types import Answer, RetrievalOptions, Source

MAX_LOG_CHARS = 1_000_000  # ~10k lines of a flow log; past this, pass the failing step's part
MAX_SEARCHED = 8  # distinct messages looked up in the docs (errors first)
MAX_SOURCES = 12  # documents cited in all
DOCS_PER_MESSAGE = 2  # default k per message
QUESTION_CHARS = 3500  # the explanation prompt's list of messages (Q&A questions stop at 4000)
NO_LLM = "Retrieval-only digest (no LLM configured): each message with the documentation found for it."
INSTRUCTION = ("Explain each error and warning below from a {tool} log: what it means, its likely cause and how "
               "to fix it. Errors first.")


class ExplainLogRequest(RetrievalOptions):
    """A tool log to triage; ``k`` is the documents looked up per distinct message (default 2)."""

    log: str = Field(description="the log text (yosys, OpenROAD or any tool)")
    tool: str | None = Field(None, description="the tool that wrote it (default: detected from the log)")


class LogIssueOut(BaseModel):
    """One distinct error or warning: how often, where first, and the [n] documents found for it."""

    severity: str
    id: str = ""
    message: str
    count: int = 1
    first_line: int = 0
    lines: list[int] = Field(default_factory=list)
    location: str = ""
    sources: list[int] = Field(default_factory=list)  # numbers of the documents in LogExplanation.sources


class LogExplanation(BaseModel):
    """The triage of one log: its messages grouped, the documentation found, and the explanation citing it."""

    tool: str
    lines: int
    errors: int = 0
    warnings_count: int = 0
    issues: list[LogIssueOut] = Field(default_factory=list)
    text: str = ""  # the explanation citing [n], or the retrieval-only digest
    sources: list[Source] = Field(default_factory=list)
    backend: str = "none"
    model: str = ""
    retrieval_only: bool = True
    secrets_redacted: int = 0
    warnings: list[str] = Field(default_factory=list)


# -- the job -----------------------------------------------------------------------------------------
def _query(issue: LogIssue, tool: str) -> str:
    # The severity and ID (the label, "ERROR GRT-0119") find a message reference; docs quote messages with
    # their severity word ("ERROR: Module ... is not part of the design"), so it is kept; the text (quoted
    # names and all) finds troubleshooting notes.
    return " ".join(part for part in (tool if tool != "unknown" else "", issue.label, issue.message) if part)


def _search(bot, issues: list[LogIssue], tool: str, k: int, groups, warnings: list[str]):
    """(unique hits in order, [n] numbers per issue): one search per message, the caller's groups applied."""
    from assistant.qa import search
    from retriever.layout import CorruptIndexError

    hits, numbers, refs = [], {}, []
    try:
        for issue in issues:
            mine = []
            for hit in search(bot, _query(issue, tool), k=k, user_groups=groups):
                if hit.chunk.id not in numbers and len(hits) < MAX_SOURCES:
                    hits.append(hit)
                    numbers[hit.chunk.id] = len(hits)
                if hit.chunk.id in numbers and numbers[hit.chunk.id] not in mine:
                    mine.append(numbers[hit.chunk.id])
            refs.append(mine)
    except (FileNotFoundError, CorruptIndexError) as e:  # no index: the grouped messages still help
        warnings.append(f"no documentation was searched: {e}")
        refs = [[] for _ in issues]
    return hits, refs


def _issue_line(i: int, issue: LogIssueOut) -> str:
    times = f" ×{issue.count}" if issue.count > 1 else ""
    where = f"line {issue.first_line}" if issue.count == 1 else f"first at line {issue.first_line}"
    where += f", {issue.location}" if issue.location else ""
    docs = ("see " + ", ".join(f"[{n}]" for n in issue.sources)) if issue.sources else "no documentation found"
    return f"{i}. {issue.severity.upper()} {issue.id}".rstrip() + f"{times} ({where}): {issue.message} — {docs}"


def _summary(result: LogExplanation) -> str:
    distinct = len(result.issues)
    return (f"{result.tool} log, {result.lines:,} lines: {result.errors} error(s) and {result.warnings_count} "
            f"warning(s) in {distinct} distinct message(s)")


def _explain(bot, req: ExplainLogRequest, groups) -> LogExplanation:
    from assistant.config import secret_values
    from assistant.qa import answer_from_hits, retrieval_only_text, to_sources
    from corpora.curate import scrub_secrets

    if len(req.log) > MAX_LOG_CHARS:
        raise JobInputError(too_long(len(req.log), MAX_LOG_CHARS, "a log") +
                            " Pass the failing step's part (e.g. the last 20,000 lines).")
    # First of all: nothing below (parser, index, LLM, answer log) may see a secret pasted with the log.
    text, counts = scrub_secrets(req.log, secret_values(bot.settings))
    parsed = parse_log(text)
    tool = req.tool or parsed.tool
    warnings = [f"{sum(counts.values())} secret(s) in the log were redacted before it was read"] if counts else []
    issues = [LogIssueOut(severity=i.severity, id=i.id, message=i.message, count=i.count, first_line=i.first_line,
                          lines=i.lines, location=i.location) for i in parsed.issues]
    result = LogExplanation(tool=tool, lines=parsed.lines, errors=parsed.errors, warnings_count=parsed.warnings,
                            issues=issues, secrets_redacted=sum(counts.values()), warnings=warnings)
    if not issues:
        result.text = f"No errors or warnings found in this {tool} log ({parsed.lines:,} lines)."
        return result
    searched = parsed.issues[:MAX_SEARCHED]
    if len(parsed.issues) > MAX_SEARCHED:
        warnings.append(f"documentation was looked up for the first {MAX_SEARCHED} of {len(parsed.issues)} "
                        "distinct messages (errors first)")
    hits, refs = _search(bot, searched, tool, req.k or DOCS_PER_MESSAGE, groups, warnings)
    for issue, mine in zip(issues, refs):
        issue.sources = mine
    listing = "\n".join(_issue_line(n, issue) for n, issue in enumerate(issues, 1))
    digest = f"{NO_LLM}\n\n{_summary(result)}:\n{listing}"
    if bot.llm is None or not hits:
        result.sources = to_sources(hits, listing)
        result.text = retrieval_only_text(result.sources, digest) if hits else digest
        return result
    question = INSTRUCTION.format(tool=tool) + "\n" + "\n".join(
        f"- {i.label}" + (f" (x{i.count})" if i.count > 1 else "") + f": {i.message}" for i in searched)
    answer: Answer = answer_from_hits(bot, question[:QUESTION_CHARS], hits, label=digest)
    result.sources, result.backend, result.model = answer.sources, answer.backend, answer.model
    result.retrieval_only, result.text = answer.retrieval_only, answer.text
    result.warnings += answer.warnings
    shown = len(answer.sources)  # the prompt may have dropped lower-ranked documents: cite only what it saw
    for issue in issues:
        issue.sources = [n for n in issue.sources if n <= shown]
    return result


# -- rendering ---------------------------------------------------------------------------------------
def _markdown(result: LogExplanation) -> str:
    head = f"**{_summary(result)}**"
    if not result.issues:
        return f"{head}\n\n{result.text}{warnings_block(result.warnings)}"
    if result.retrieval_only:  # the digest says it all: its summary, the messages and the passages found
        return f"{no_headings(result.text)}{sources_footer(result.sources)}{warnings_block(result.warnings)}"
    listing = "\n".join(_issue_line(n, i) for n, i in enumerate(result.issues, 1))
    body = f"{no_headings(listing)}\n\n**Explanation**\n\n{result.text}"
    return f"{head}\n\n{body}{sources_footer(result.sources)}{warnings_block(result.warnings)}"


def _blocks(result: LogExplanation, source_url: str | None) -> str:
    from assistant.slack.format import escape, format_answer

    text = result.text
    if result.issues and not result.retrieval_only:
        text = "\n".join(_issue_line(n, i) for n, i in enumerate(result.issues, 1)) + "\n\n" + text
    answer = Answer(question="", text=text, sources=result.sources, warnings=result.warnings)
    return f"*{escape(_summary(result))}*\n\n" + format_answer(answer, source_url)


def _read(text: str, uploads: list[Upload]) -> ExplainLogRequest:
    parts = [text.strip()] if text.strip() else []
    if parts and parts[0].startswith("```"):  # pasted in a code block: the fence is not part of the log
        parts[0] = parts[0].split("\n", 1)[1] if "\n" in parts[0] else ""
        parts[0] = parts[0].removesuffix("```")
    for upload in uploads:
        size = upload.path.stat().st_size
        if size > 4 * MAX_LOG_CHARS:
            raise JobInputError(f"**{inline(upload.name)}** is {size:,} bytes; a log can be at most "
                                f"{MAX_LOG_CHARS:,} characters. Upload the failing step's part.")
        parts.append(upload.path.read_bytes().decode("utf-8", errors="replace"))
    log = "\n".join(parts)
    if not log.strip():
        raise JobInputError("Paste a tool log (yosys, OpenROAD or any EDA tool) or upload the log file.")
    if len(log) > MAX_LOG_CHARS:
        raise JobInputError(too_long(len(log), MAX_LOG_CHARS, "a log") + " Send the failing step's part.")
    return ExplainLogRequest(log=log)


def _record(result: LogExplanation) -> dict[str, Any]:
    question = f"explain {result.tool} log: " + "; ".join(f"{i.severity} {i.id} {i.message}".replace("  ", " ")
                                                            for i in result.issues[:MAX_SEARCHED])
    return {"question": question[:2000], "text": result.text, "backend": result.backend, "model": result.model,
            "sources": [s.model_dump(mode="json") for s in result.sources]}


EXPLAIN_LOG = register(Job(
    name="explain_log", title="Explain a tool log", mode="log",
    description="Paste or upload a yosys, OpenROAD or other tool log: its errors and warnings, grouped, with "
                "the documentation for each and an explanation citing it.",
    request=ExplainLogRequest, result=LogExplanation, run=_explain,
    render_markdown=_markdown, render_blocks=_blocks, from_text=_read, feedback=_record,
    cli=("explain-log",), cli_argument="log", cli_file=True, profile="Explain log", slack_verb="log",
    usage="log PASTED-LOG", max_chars=MAX_LOG_CHARS, uploads="read",
))
