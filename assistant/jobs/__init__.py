"""Jobs as a registry: every kind of request the assistant serves, and the one list clients are built from.

    from assistant.jobs import all_jobs, get, profiles
    [job.name for job in all_jobs()]   # ask, search, tcl_check, tcl_generate, bug_summary, ...
    get("ask").request                 # the request model; bot.run("ask", {...}) runs it

Each module in :data:`BUILTIN` calls :func:`register` for its jobs when imported; they are imported on the
first call to :func:`all_jobs` / :func:`get`. A new job is a module plus its line here.
"""
from __future__ import annotations

import importlib

from assistant.jobs.base import Job, JobInputError, Upload, register, registered

__all__ = ["BUILTIN", "Job", "JobInputError", "Upload", "all_jobs", "get", "profiles", "register", "slack_verbs"]

# Registration order is the order of CLI commands, chat profiles and, within a profile, dispatch.
BUILTIN = (
    "assistant.jobs.qa",  # ask, search
    "assistant.jobs.tcl",  # tcl_check, tcl_generate
    "assistant.jobs.bugs",  # bug_summary
    "assistant.jobs.logs",  # explain_log
)


def _load() -> dict[str, Job]:
    for module in BUILTIN:
        importlib.import_module(module)  # registers on import; a second import is a no-op
    return registered()


def all_jobs() -> list[Job]:
    """Every registered job, in registration order."""
    return list(_load().values())


def get(name: str) -> Job:
    """The job called ``name``; KeyError naming the known jobs otherwise."""
    jobs = _load()
    if name not in jobs:
        raise KeyError(f"unknown job {name!r} (known: {', '.join(jobs)})")
    return jobs[name]


def profiles() -> dict[str, list[Job]]:
    """Chat profile name -> its jobs in dispatch order (profiles in registration order)."""
    out: dict[str, list[Job]] = {}
    for job in all_jobs():
        if job.profile:
            out.setdefault(job.profile, []).append(job)
    return out


def slack_verbs() -> dict[str, Job]:
    """Slack verb -> job."""
    return {job.slack_verb: job for job in all_jobs() if job.slack_verb}
