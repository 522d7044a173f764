"""Result types of the service API, shared by the CLI, the Chainlit UI and the Slack bot.

All are pydantic models so every client can print them as JSON (``model_dump_json``) without glue.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Source(BaseModel):
    """One retrieved passage shown to the user, numbered as cited in the answer ([n])."""

    n: int
    chunk_id: str
    path: str
    title: str
    snippet: str
    score: float
    kind: str = ""
    start_line: int = 0
    end_line: int = 0
    acl: list[str] = Field(default_factory=lambda: ["public"])  # the passage's groups (recorded with feedback)


class Answer(BaseModel):
    question: str
    text: str
    sources: list[Source] = Field(default_factory=list)
    backend: str = "none"
    model: str = ""
    retrieval_only: bool = False  # True when no LLM wrote the text (backend none or LLM failure)
    latency_ms: float = 0.0
    warnings: list[str] = Field(default_factory=list)


class SyntaxIssue(BaseModel):
    line: int
    message: str


class LintIssue(BaseModel):
    line: int
    command: str
    option: str | None = None
    # "unsafe": reaches outside the tool (exec, sockets, writes outside the sandbox...; assistant/tcl/unsafe.py)
    problem: Literal["unknown_command", "unknown_option", "missing_required_option", "missing_value",
                     "unverified_command", "unsafe"] | str
    suggestion: str | None = None


class RunResult(BaseModel):
    ran: bool = False
    ok: bool = True
    tool: str = ""
    returncode: int | None = None
    timed_out: bool = False
    errors: list[dict[str, Any]] = Field(default_factory=list)  # {"line": int|None, "message": str}
    log_tail: str = ""
    skipped_reason: str | None = None  # e.g. "yosys not installed"
    artifacts: list[str] = Field(default_factory=list)


class CheckResult(BaseModel):
    ok: bool
    syntax: list[SyntaxIssue] = Field(default_factory=list)
    lint: list[LintIssue] = Field(default_factory=list)
    run: RunResult = Field(default_factory=RunResult)


class TclGeneration(BaseModel):
    task: str
    tool: str
    script: str | None = None  # None with the `none` backend: see `references`
    sources: list[Source] = Field(default_factory=list)
    check: CheckResult | None = None
    rounds_used: int = 0
    retrieval_only: bool = False
    message: str = ""
    backend: str = "none"
    model: str = ""
    fixes: list[str] = Field(default_factory=list)  # deterministic fix-its applied, "line N: what"
    attempts: int = 0  # model calls made (the first script plus repair rounds)


class OwnerCandidate(BaseModel):
    owner: str
    score: float
    reasons: list[str] = Field(default_factory=list)


class BugSummary(BaseModel):
    bug_id: str
    kind: Literal["technical", "managerial", "assignment", "all"]
    sections: dict[str, str] = Field(default_factory=dict)  # e.g. {"technical": "...", "managerial": "..."}
    assignment: list[OwnerCandidate] = Field(default_factory=list)
    backend: str = "none"
    model: str = ""
    retrieval_only: bool = False  # deterministic digest, no LLM
    warnings: list[str] = Field(default_factory=list)
    acl: list[str] = Field(default_factory=lambda: ["public"])  # who may see it: strictest of the bugs it used
