"""The job spec and the registry every client is built from.

A :class:`Job` declares what one kind of request is: its request and result types (pydantic), how the service
runs it (and streams it, where it streams), how its result renders for the CLI/UI (Markdown) and for Slack
(mrkdwn), how a chat message becomes a request, and what the answer log records for feedback. The CLI's
job commands, the Chainlit chat profiles and the Slack verbs iterate :func:`all_jobs`, so a new job is one
module that calls :func:`register` plus one line in :data:`assistant.jobs.BUILTIN`.

    from assistant.jobs import all_jobs, get
    job = get("ask")
    result = bot.run("ask", job.request(question="How is the UART baud rate set?"), user_groups={"soc-team"})
    print(job.render_markdown(result))
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

Groups = Iterable[str] | None  # the caller's ACL groups (None: public documents only)


class JobInputError(ValueError):
    """A message or request a job cannot take; the message says what to send instead (shown to the user)."""


@dataclass(frozen=True)
class Upload:
    """A file sent with a chat message: ``name`` as the user knows it, ``path`` where the client stored it."""

    name: str
    path: Path


@dataclass(frozen=True)
class Job:
    """One kind of request the assistant serves, and everything a client needs to offer it.

    Required:
        name: the registry key and `Assistant.run` name, e.g. ``"tcl_check"``.
        title: a human name, e.g. ``"Check a Tcl script"``.
        description: one or two sentences (CLI help, chat profile description, API docs).
        request, result: the pydantic request and result types.
        run: ``run(bot, request, user_groups) -> result``; ``bot`` is an `Assistant` view already carrying the
            request's options (k, mode, rerank, backend).
        render_markdown: ``result -> str`` for the CLI and the chat page.
        render_blocks: ``(result, source_url) -> str`` Slack mrkdwn; every untrusted field escaped.
        from_text: ``(text, uploads) -> request`` from a chat or Slack message; raises :class:`JobInputError`
            with a usage hint for a message it cannot take.
        feedback: ``result -> dict`` the answer log records (`FeedbackStore.record_answer`: question,
            text, sources or acl, backend, model), or None to log nothing.

    Optional:
        stream: ``stream(bot, request, user_groups)`` yielding text pieces then the result.
        mode: the answer log's mode (default: ``name``).
        cli: the command path, e.g. ``("tcl", "check")``; None: no CLI command.
        cli_argument: the request field the generated CLI command takes as its argument (default: the first
            required field); ``cli_file`` makes that argument a file to read ("-" reads stdin).
        profile: the chat profile it belongs to (several jobs may share one; the first whose ``accepts``
            takes the message runs); ``default_profile`` marks the page's default.
        slack_verb: the word that starts a Slack request for it (the `ask` job also takes verb-less text).
        usage: a one-line usage for help texts, e.g. ``"bug ID [technical|...]"`` (Slack: `/chipassist USAGE`).
        max_chars: the longest message it takes (longer ones are refused before anything runs).
        accepts: ``(text, uploads) -> bool`` for jobs sharing a profile.
        uploads: what files sent with a message are: "none" (refused), "read" (passed to ``from_text``),
            "import" (handed to ``import_upload`` one by one, before the text is read).
        import_upload: ``(bot, upload) -> str`` Markdown reply for one imported file.
        explain_error: ``(exception, bot) -> str | None``: a user-facing message for an expected failure
            (an unknown bug id), None to treat it as a failure.
        downloads: ``result -> [(file name, text)]`` files the chat page offers for download.
    """

    name: str
    title: str
    description: str
    request: type[BaseModel]
    result: type[BaseModel]
    run: Callable[[Any, Any, Groups], BaseModel]
    render_markdown: Callable[[Any], str]
    render_blocks: Callable[[Any, str | None], str]
    from_text: Callable[[str, list[Upload]], BaseModel]
    feedback: Callable[[Any], dict[str, Any] | None]
    stream: Callable[[Any, Any, Groups], Iterator[Any]] | None = None
    mode: str = ""
    cli: tuple[str, ...] | None = None
    cli_argument: str | None = None
    cli_file: bool = False
    profile: str | None = None
    default_profile: bool = False
    slack_verb: str | None = None
    usage: str = ""
    max_chars: int = 4000
    accepts: Callable[[str, list[Upload]], bool] | None = None
    uploads: Literal["none", "read", "import"] = "none"
    import_upload: Callable[[Any, Upload], str] | None = None
    explain_error: Callable[[Exception, Any], str | None] | None = None
    downloads: Callable[[Any], list[tuple[str, str]]] | None = None

    @property
    def log_mode(self) -> str:
        """The mode recorded with each logged answer (``mode``, else the job's name)."""
        return self.mode or self.name

    def takes(self, text: str, uploads: list[Upload]) -> bool:
        """Whether this job takes the message (always, unless it shares a profile and says otherwise)."""
        return self.accepts is None or self.accepts(text, uploads)


_REGISTRY: dict[str, Job] = {}


def register(job: Job) -> Job:
    """Add ``job`` to the registry (in order: it is the order of CLI commands, profiles and dispatch).
    Raises ValueError when the name, CLI path or Slack verb is taken by another job."""
    for other in _REGISTRY.values():
        if other.name == job.name and other is not job:
            raise ValueError(f"job {job.name!r} is registered twice")
        if job.cli and other.cli == job.cli and other.name != job.name:
            raise ValueError(f"job {job.name!r}: CLI command {' '.join(job.cli)!r} is taken by {other.name!r}")
        if job.slack_verb and other.slack_verb == job.slack_verb and other.name != job.name:
            raise ValueError(f"job {job.name!r}: Slack verb {job.slack_verb!r} is taken by {other.name!r}")
    _REGISTRY[job.name] = job
    return job


def registered() -> dict[str, Job]:
    """The registry as it is now (without loading the built-in jobs: see :func:`assistant.jobs.all_jobs`)."""
    return _REGISTRY
