"""The jobs the MCP server, the REST API and the OpenAI facade offer: one table, one row per job.

Each row names the job, its pydantic input and output models, and how it calls `assistant.service.Assistant`
with the caller's ACL groups. The interfaces build their tools and endpoints from `JOBS` alone, so moving to
a job registry later changes this table only.

Inputs are what a remote caller may set: no server paths (a design file, a bug export) and no
``run_unsafe``, so a token holder can neither read the server's files nor run unconfined code. Text fields
have length caps; a longer value is refused (422 / a tool error) naming the field.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.qa import MAX_QUESTION_CHARS, to_sources
from assistant.types import Answer, BugSummary, CheckResult, Source, TclGeneration

MAX_SCRIPT_CHARS = 100_000  # flow scripts are a few KB; the checker itself refuses 1 MB
MAX_HISTORY_TURNS = 20


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored


class Turn(_Input):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_QUESTION_CHARS * 4)


class SearchInput(_Input):
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="What to look for.")
    k: int | None = Field(None, ge=1, le=50, description="Passages to return (default retrieval.k).")


class SearchResult(BaseModel):
    """The passages found, numbered [n] as citations, with path, lines and a snippet."""

    query: str
    sources: list[Source] = Field(default_factory=list)


class AskInput(_Input):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="The question.")
    k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve (default retrieval.k).")
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                description="Earlier turns of the conversation, oldest first.")


class TclCheckInput(_Input):
    script: str = Field(min_length=1, max_length=MAX_SCRIPT_CHARS, description="The Tcl script to check.")
    tool: Literal["yosys", "openroad"] = "yosys"


class TclGenerateInput(_Input):
    task: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="What the script should do.")
    tool: Literal["yosys", "openroad"] = "yosys"
    rounds: int = Field(2, ge=0, le=4, description="Check-and-repair rounds.")
    references: bool = Field(True, description="Put retrieved docs and scripts in the prompt.")


class BugSummaryInput(_Input):
    bug_id: str = Field(min_length=1, max_length=200, description="The bug's id, e.g. PICO-12.")
    kind: Literal["technical", "managerial", "assignment", "all"] = "all"


@dataclass(frozen=True)
class Job:
    """One job: ``run(bot, inp, groups)`` calls the Assistant method ``method`` with the caller's groups."""

    name: str
    description: str
    input: type[BaseModel]
    output: type[BaseModel]
    method: str
    run: Callable[[Any, Any, set[str] | None], BaseModel]
    streams: bool = False  # the REST API also offers it as server-sent events (`Assistant.ask_stream`)


def _search(bot, inp: SearchInput, groups) -> SearchResult:
    hits = bot.search(inp.query, k=inp.k, user_groups=groups)
    return SearchResult(query=inp.query, sources=to_sources(hits, inp.query))


def _ask(bot, inp: AskInput, groups) -> Answer:
    return bot.ask(inp.question, k=inp.k, user_groups=groups, history=[t.model_dump() for t in inp.history])


def _tcl_check(bot, inp: TclCheckInput, groups) -> CheckResult:
    return bot.tcl_check(inp.script, tool=inp.tool)  # reads no documents: nothing for the groups to filter


def _tcl_generate(bot, inp: TclGenerateInput, groups) -> TclGeneration:
    return bot.tcl_generate(inp.task, tool=inp.tool, rounds=inp.rounds, references=inp.references,
                            user_groups=groups)


def _bug_summary(bot, inp: BugSummaryInput, groups) -> BugSummary:
    return bot.bug_summary(inp.bug_id, kind=inp.kind, user_groups=groups)


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("search", "Find passages in the indexed chip design documents, code and scripts, with citations.",
        SearchInput, SearchResult, "search", _search),
    Job("ask", "Answer a chip design question from the indexed documents, citing its sources as [n].",
        AskInput, Answer, "ask", _ask, streams=True),
    Job("tcl_check", "Check a yosys/OpenROAD Tcl script: syntax, commands and options, and a sandboxed run.",
        TclCheckInput, CheckResult, "tcl_check", _tcl_check),
    Job("tcl_generate", "Write a yosys/OpenROAD Tcl script for a task, checked and repaired in the sandbox.",
        TclGenerateInput, TclGeneration, "tcl_generate", _tcl_generate),
    Job("bug_summary", "Summarize an imported bug (technical, managerial, likely owners).",
        BugSummaryInput, BugSummary, "bug_summary", _bug_summary),
)}


def feedback_record(result: BaseModel) -> tuple[str, dict[str, Any]] | None:
    """(mode, row) the answer log keeps of a job's result, with its sources' or own ACL; None: nothing to rate."""
    if isinstance(result, Answer):
        return "ask", result.model_dump(mode="json")
    if isinstance(result, TclGeneration):
        return "tcl", {"question": result.task, "text": result.script or result.message, "backend": result.backend,
                "model": result.model, "sources": [s.model_dump() for s in result.sources]}
    if isinstance(result, BugSummary):
        return "bug", {"question": f"bug {result.bug_id}", "text": "\n".join(result.sections.values()),
                "backend": result.backend, "model": result.model, "acl": result.acl}
    return None
