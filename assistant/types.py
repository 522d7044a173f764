"""Request and result types of the service API, shared by the CLI, the Chainlit UI, the Slack bot and the API.

All are pydantic models so every client can validate a request from JSON and print a result as JSON
(``model_dump_json``) without glue. Each job in :mod:`assistant.jobs` names its request and result type here
(the log-triage job keeps its own in :mod:`assistant.logs`). A request carries the per-request options it
honours (:class:`RetrievalOptions`); the caller's ACL groups are never part of a request: the service takes
them separately from the authenticated client.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field


# chunk-id kinds of what the Tcl generator shows its model besides retrieved passages: a tool's command help and
# the cookbook's worked examples (assistant.tcl.generate)
CONTEXT_KINDS = ("commands", "help", "cookbook")


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
    # where in the file the passage starts, for formats that have pages/slides/sheets ("p. 12", "slide 3")
    location: str | None = None

    def where(self, lines: bool = True) -> str:
        """The citation as shown to the user: "docs/spec.pdf p. 12", else "rtl/uart.v:10-42" (with ``lines``).

        A location beats line numbers: lines of text extracted from a PDF or a slide mean nothing to a reader."""
        if self.location:
            return f"{self.path} {self.location}"
        return f"{self.path}:{self.start_line}-{self.end_line}" if lines and self.end_line else self.path

    @property
    def is_context(self) -> bool:
        """A tool's command help or a cookbook example shown to the model, not a passage of an indexed file."""
        return self.chunk_id.split(":", 1)[0] in CONTEXT_KINDS


def split_context(sources: list[Source]) -> tuple[list[Source], dict[str, list[Source]]]:
    """The passages of indexed files, and the other context by where it comes from ("yosys help", "yosys
    cookbook"). Every client lists a script's sources this way: one line per kind of context instead of twenty,
    and links only to real files."""
    passages = [s for s in sources if not s.is_context]
    context: dict[str, list[Source]] = {}
    for s in sources:
        if s.is_context:
            context.setdefault(s.path, []).append(s)
    return passages, context


class Answer(BaseModel):
    """A grounded answer: ``text`` cites ``sources`` as [n]; ``retrieval_only`` when no LLM wrote it."""

    question: str
    text: str
    sources: list[Source] = Field(default_factory=list)
    backend: str = "none"
    model: str = ""
    retrieval_only: bool = False  # True when no LLM wrote the text (backend none or LLM failure)
    latency_ms: float = 0.0
    warnings: list[str] = Field(default_factory=list)


class SyntaxIssue(BaseModel):
    """A Tcl syntax error at a script line."""

    line: int
    message: str


class LintIssue(BaseModel):
    """A command/option problem lint found in a Tcl script (unknown command, missing option, unsafe...)."""

    line: int
    command: str
    option: str | None = None
    # "unsafe": reaches outside the tool (exec, sockets, writes outside the sandbox...; assistant/tcl/unsafe.py)
    problem: Literal["unknown_command", "unknown_option", "missing_required_option", "missing_value",
                     "unverified_command", "unsafe"] | str
    suggestion: str | None = None


class RunResult(BaseModel):
    """The sandboxed run of a Tcl script in the real tool, or why it was skipped."""

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
    """The three-level check of a Tcl script: ``ok`` only when syntax, lint and the run all passed."""

    ok: bool
    syntax: list[SyntaxIssue] = Field(default_factory=list)
    lint: list[LintIssue] = Field(default_factory=list)
    run: RunResult = Field(default_factory=RunResult)


class TclGeneration(BaseModel):
    """A generated Tcl script with its check and the references it was written from (``script`` None
    with the retrieval-only `none` backend)."""

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
    missing_outputs: list[str] = Field(default_factory=list)  # files the task names that the run did not write
    wrong_outputs: list[str] = Field(default_factory=list)  # files the task names holding another kind of output


class OwnerCandidate(BaseModel):
    """A suggested owner of a bug, with the score and the reasons (history, component, aliases)."""

    owner: str
    score: float
    reasons: list[str] = Field(default_factory=list)


class BugSummary(BaseModel):
    """A bug's summary by section (technical, managerial, assignment, or the deterministic digest)."""

    bug_id: str
    kind: Literal["technical", "managerial", "assignment", "all"]
    sections: dict[str, str] = Field(default_factory=dict)  # e.g. {"technical": "...", "managerial": "..."}
    assignment: list[OwnerCandidate] = Field(default_factory=list)
    backend: str = "none"
    model: str = ""
    retrieval_only: bool = False  # deterministic digest, no LLM
    warnings: list[str] = Field(default_factory=list)
    acl: list[str] = Field(default_factory=lambda: ["public"])  # who may see it: strictest of the bugs it used


class SearchHitOut(BaseModel):
    """One ranked chunk of a `search` result, with its whole text (search shows passages, not answers)."""

    rank: int
    score: float
    scores: dict[str, float] = Field(default_factory=dict)  # per retriever part: dense, bm25, rerank
    id: str
    source: str
    title: str
    kind: str = ""
    start_line: int = 0
    end_line: int = 0
    location: str | None = None  # "p. 12", "slide 3", "sheet Regs" (see Source.location)
    text: str = ""
    acl: list[str] = Field(default_factory=lambda: ["public"])


class SearchResult(BaseModel):
    """The passages visible to the caller that best match ``query``, best first."""

    query: str
    hits: list[SearchHitOut] = Field(default_factory=list)


# -- requests: what each job takes (the caller's groups come separately) -----------------------------
class RetrievalOptions(BaseModel):
    """Per-request options over the shared index and models; None keeps the configured value."""

    k: int | None = Field(None, ge=1, le=100, description="passages to retrieve (default retrieval.k)")
    mode: Literal["hybrid", "dense", "bm25"] | None = Field(None, description="search mode (default retrieval.mode)")
    rerank: bool | None = Field(None, description="re-score with the cross-encoder (default retrieval.rerank)")
    # local clients only: a remote token holder gets the server's configured model, and cannot make the
    # server load another one (a `local` transformers model is gigabytes of memory per backend)
    backend: Literal["none", "openai", "local", "llamacpp"] | None = Field(
        None, description="LLM backend (default llm.backend; `none` answers with passages only)",
        json_schema_extra={"local_only": True})


class AskRequest(RetrievalOptions):
    """A question for grounded Q&A, with earlier chat turns for follow-ups."""

    question: str = Field(description="the question")
    history: list[dict[str, str]] = Field(default_factory=list, description="earlier {role, content} turns")


class SearchRequest(RetrievalOptions):
    """A search over the index (no LLM is involved, so ``backend`` is ignored)."""

    query: str = Field(description="the query")


class TclGenerateRequest(RetrievalOptions):
    """A task to write a Tcl script for, checked and repaired in the sandbox."""

    task: str = Field(description="what the script should do")
    tool: str = Field("yosys", description="yosys or openroad (an unknown tool is an error naming the choices)")
    # server paths: only local clients (CLI) may set them; a remote API must not let callers read server files
    design: list[Path] | None = Field(None, description="design files copied into the sandbox (server paths)",
                                      json_schema_extra={"local_only": True})
    rounds: int = Field(2, ge=0, le=10, description="repair rounds")
    references: bool | None = Field(None, description="put retrieved docs and scripts in the prompt (default: only "
                                    "for models with a large prompt budget; small CPU models copy them)")
    # server-side choices: a remote caller must not run what lint flags unsafe
    run_unsafe: bool = Field(False, description="also run a script lint flags unsafe (still confined)",
                             json_schema_extra={"local_only": True})


class TclCheckRequest(BaseModel):
    """A user's own Tcl script to check: syntax, commands and options, and a sandboxed run."""

    script: str = Field(description="the Tcl script")
    tool: str = Field("yosys", description="yosys or openroad (an unknown tool is an error naming the choices)")
    # server paths: only local clients (CLI) may set them; a remote API must not let callers read server files
    design: list[Path] | None = Field(None, description="design files copied into the sandbox (server paths)",
                                      json_schema_extra={"local_only": True})
    run: bool = Field(True, description="run the script in the sandbox (False: levels 1-2 only)")
    # local clients only: remote callers get the configured timeout, not up to an hour of sandbox time each
    timeout_s: float | None = Field(None, gt=0, le=3600, description="seconds before the tool is killed",
                                    json_schema_extra={"local_only": True})
    # server-side choices (the index's docs, the script's path in the sandbox): local clients only
    learn_from_index: bool = Field(False, description="also learn OpenROAD commands from the index's docs",
                                   json_schema_extra={"local_only": True})
    script_name: str | None = Field(None, description="the script's path in the sandbox, e.g. flows/synth.tcl",
                                    json_schema_extra={"local_only": True})


class BugSummaryRequest(BaseModel):
    """A bug to summarize: technical, managerial, assignment (ranked owners) or all."""

    bug_id: str = Field(description="the bug id, e.g. PICO-101")
    kind: str = Field("all", description="technical, managerial, assignment or all")
    bugs_file: Path | None = Field(None, description="read the bugs from this export instead of the store",
                                   json_schema_extra={"local_only": True})  # a server path, as `design`
    backend: Literal["none", "openai", "local", "llamacpp"] | None = Field(
        None, json_schema_extra={"local_only": True})  # as RetrievalOptions.backend


class TclCheckResult(BaseModel):
    """The `tcl_check` job's result: the script as checked, for which tool, and the check."""

    script: str
    tool: str
    check: CheckResult
