"""The one service API. The CLI, the Chainlit UI, the Slack bot (and the API) call only this.

    from assistant.config import load_settings
    from assistant.service import Assistant
    bot = Assistant(load_settings())
    answer = bot.ask("How is the UART baud rate set?", user_groups={"public"})
    result = bot.run("search", {"query": "baud rate", "k": 3}, user_groups={"soc-team"})   # any registered job

Every job is registered in :mod:`assistant.jobs`; `run`/`stream` execute one by name, the typed methods
(`ask`, `search`, `tcl_generate`, ...) are thin wrappers kept for callers and tests. Per-request options
(``k``, ``mode``, ``rerank``, ``backend``) are arguments: :meth:`Assistant.using` gives a view with them over
the SAME resources, so one process holds one index (FAISS, BM25, ACL data, embedder) and one loaded model per
backend however many option combinations its users pick. Heavy parts load lazily on first use.

Where several clients run in one process (`chipassist serve --ui --slack --mcp`), they share ONE Assistant:
:meth:`Assistant.shared` returns the process's instance (created on first use), which the API, the chat page
(ui/app.py) and the Slack bot all take instead of building their own.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assistant.config import LLMConfig, Settings, load_settings
from assistant.types import Answer, BugSummary, CheckResult, TclGeneration


class _Shared:
    """What every view of one Assistant shares: the opened index and the loaded LLM of each backend."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.index = None
        self.llms: dict[str, Any] = {}  # backend name -> LLM (None for `none`)


def warm_prompts() -> list[str]:
    """The constant system prompts of the generative jobs (Q&A, Tcl scripts), evaluated once when a CPU
    model loads so no question or script pays for them again (``LlamaCppBackend.warm``)."""
    from assistant.prompts import SYSTEM_PROMPT
    from assistant.tcl.prompt import system_prompts

    return [SYSTEM_PROMPT, *system_prompts()]


_PROCESS_LOCK = threading.Lock()
_PROCESS: dict[str, "Assistant"] = {}  # "assistant" -> the process's shared instance (see Assistant.shared)


class Assistant:
    """The service: shared resources (index, LLMs) plus every job, run by name or through a typed method.

    Args:
        settings: the configuration (default: :func:`assistant.config.load_settings`).

    Thread-safe: one instance serves every user of a UI or bot process; resources load once under a lock.
    """

    def __init__(self, settings: Settings | None = None, *, _shared: _Shared | None = None) -> None:
        self.settings = settings or load_settings()
        self._shared = _shared or _Shared()

    @classmethod
    def shared(cls, settings: Settings | None = None) -> "Assistant":
        """The process's one Assistant, so every client in the process (API, MCP, chat page, Slack bot) uses
        one opened index and one loaded model per backend.

        The first call creates it from ``settings`` (default :func:`assistant.config.load_settings`); later
        calls return that instance. A later call with different ``settings`` raises ValueError rather than
        quietly serving another index or model than the caller asked for."""
        with _PROCESS_LOCK:
            bot = _PROCESS.get("assistant")
            if bot is None:
                bot = _PROCESS["assistant"] = cls(settings)
            elif settings is not None and settings != bot.settings:
                raise ValueError(f"this process already shares an Assistant over {bot.settings.index_dir} "
                                 "with other settings; one process serves one configuration")
            return bot

    # -- shared resources ---------------------------------------------------------------------
    @property
    def index(self):
        """The retriever index, opened once and shared by every view (thread-safe for reads).

        ``retrieval.reranker_path`` replaces the index's own cross-encoder here, so it applies to every job
        that searches (Q&A, search, Tcl references, log triage), not only to one client."""
        shared = self._shared
        with shared.lock:
            if shared.index is None:
                from retriever.index import Index

                index = Index.open(self.settings.index_dir)
                if self.settings.retrieval.reranker_path is not None:
                    index.config = index.config.model_copy(update={"reranker": self.settings.retrieval.reranker_path})
                shared.index = index
            return shared.index

    @property
    def llm(self):
        """This view's LLM backend (loaded once per backend and shared), or None for the retrieval-only `none`."""
        shared, backend = self._shared, self.settings.llm.backend
        with shared.lock:
            if backend not in shared.llms:
                from assistant.llm import get_llm

                shared.llms[backend] = llm = get_llm(self.settings.llm)
                if self.settings.llm.warm and hasattr(llm, "warm"):
                    llm.warm(warm_prompts(), background=True)
            return shared.llms[backend]

    @llm.setter
    def llm(self, value) -> None:
        """Use ``value`` (an object speaking the :class:`assistant.llm.LLM` protocol, or None) as this
        view's backend: tests and benches wrap or script the model this way."""
        with self._shared.lock:
            self._shared.llms[self.settings.llm.backend] = value

    def using(self, *, k: int | None = None, mode: str | None = None, rerank: bool | None = None,
              backend: str | None = None) -> "Assistant":
        """A view of this assistant with per-request options, sharing its index and loaded models.

        ``k``/``mode``/``rerank`` override ``settings.retrieval``; ``backend`` picks an LLM backend: the
        configured one keeps its settings, another (e.g. ``none``) gets that backend's defaults.
        None keeps the current value. Raises ValueError for an unknown mode or backend."""
        updates: dict[str, Any] = {}
        retrieval = {name: value for name, value in (("k", k), ("mode", mode), ("rerank", rerank))
                     if value is not None}
        if retrieval:
            updates["retrieval"] = self.settings.retrieval.model_validate(
                {**self.settings.retrieval.model_dump(), **retrieval})
        if backend is not None and backend != self.settings.llm.backend:
            updates["llm"] = LLMConfig(backend=backend)
        if not updates:
            return self
        return Assistant(self.settings.model_copy(update=updates), _shared=self._shared)

    # -- any job, by name -----------------------------------------------------------------------
    def run(self, job: str, request: BaseModel | dict[str, Any], *,
            user_groups: Iterable[str] | None = None) -> BaseModel:
        """Run the registered job ``job`` on ``request`` (its request model, or a dict validated into it) for
        a caller in ``user_groups`` (None: public documents only); returns the job's result model.

        Raises KeyError for an unknown job, pydantic.ValidationError for a bad request, and whatever the job
        raises for bad input (ValueError subclasses with a message naming the field)."""
        from assistant.jobs import get

        spec = get(job)
        req = spec.request.model_validate(request)
        return spec.run(self._view(req), req, user_groups)

    def stream(self, job: str, request: BaseModel | dict[str, Any], *,
               user_groups: Iterable[str] | None = None) -> Iterator[str | BaseModel]:
        """Like :meth:`run`, but yield text pieces as the job produces them, then the result (last item).
        A job that does not stream yields its result only."""
        from assistant.jobs import get

        spec = get(job)
        req = spec.request.model_validate(request)
        view = self._view(req)
        if spec.stream is None:
            yield spec.run(view, req, user_groups)
            return
        yield from spec.stream(view, req, user_groups)

    def _view(self, req: BaseModel) -> "Assistant":
        """The view for a request's options (the fields it has among k, mode, rerank, backend)."""
        return self.using(**{name: getattr(req, name) for name in ("k", "mode", "rerank", "backend")
                             if name in type(req).model_fields})

    # -- typed wrappers over the registered jobs ----------------------------------------------
    def search(self, query: str, *, k: int | None = None, user_groups: Iterable[str] | None = None,
               mode: str | None = None, rerank: bool | None = None) -> list:
        """The top-``k`` chunks for ``query`` visible to ``user_groups`` (None: public only) as
        ``retriever.types.SearchHit`` objects, with the configured mode and reranker unless given (the
        `search` job wraps these in a :class:`assistant.types.SearchResult`). Raises ValueError for an
        empty query or a reranker the index does not have."""
        from assistant.qa import search

        return search(self.using(k=k, mode=mode, rerank=rerank), query, user_groups=user_groups)

    def ask(self, question: str, *, k: int | None = None, user_groups: Iterable[str] | None = None,
            history: list[dict[str, str]] | None = None, backend: str | None = None) -> Answer:
        """A grounded answer to ``question`` citing [n] sources visible to ``user_groups``; retrieval-only
        with the `none` backend or when the LLM fails. ``history`` holds earlier {role, content} turns."""
        return self.run("ask", {"question": question, "k": k, "history": history or [], "backend": backend},
                        user_groups=user_groups)

    def ask_stream(self, question: str, *, k: int | None = None, user_groups: Iterable[str] | None = None,
                   history: list[dict[str, str]] | None = None, backend: str | None = None) -> Iterator[str | Answer]:
        """Yield answer text pieces as they are generated, then the final Answer (whose text they join to)."""
        return self.stream("ask", {"question": question, "k": k, "history": history or [], "backend": backend},
                           user_groups=user_groups)

    def tcl_generate(self, task: str, *, tool: str = "yosys", design: Path | list[Path] | None = None,
                     rounds: int = 2, user_groups: Iterable[str] | None = None, references: bool | None = None,
                     run_unsafe: bool = False, backend: str | None = None) -> TclGeneration:
        """Write a Tcl script for ``task``, check it in the sandbox and repair it for up to ``rounds`` rounds.
        A script with unsafe constructs is run only with ``run_unsafe`` (the user asked explicitly), and then
        confined; ``references=False`` leaves retrieved docs and scripts out of the prompt (None: only models with a large
        prompt budget get them)."""
        designs = [design] if isinstance(design, (str, Path)) else design
        return self.run("tcl_generate", {"task": task, "tool": tool, "design": designs, "rounds": rounds,
                                         "references": references, "run_unsafe": run_unsafe, "backend": backend},
                        user_groups=user_groups)

    def tcl_check(self, script: str, *, tool: str = "yosys", design: Path | list[Path] | None = None,
                  run: bool = True, timeout_s: float | None = None, learn_from_index: bool = False,
                  script_name: str | None = None, user_groups: Iterable[str] | None = None) -> CheckResult:
        """Check a user's own (pasted) script: syntax, commands and options, and a sandboxed run (even when
        lint flags it unsafe); what comes back is scrubbed of the server's secrets. ``learn_from_index`` also
        learns OpenROAD commands from the index's docs visible to ``user_groups``."""
        designs = [design] if isinstance(design, (str, Path)) else design
        return self.run("tcl_check", {"script": script, "tool": tool, "design": designs, "run": run,
                                      "timeout_s": timeout_s, "learn_from_index": learn_from_index,
                                      "script_name": script_name}, user_groups=user_groups).check

    def bugs_import(self, path: Path, *, acl: Iterable[str] | None = None):
        """Import a bug export; its bugs get the strictest of the manifests above it, ``acl`` and their own.
        Returns the import report (counts and the problems of skipped records)."""
        from assistant.bugs.store import BugStore

        return BugStore(self.settings.bugs_db).import_file(path, acl=acl)

    def bug_summary(self, bug_id: str, *, kind: str = "all", bugs_file: Path | None = None,
                    user_groups: Iterable[str] | None = None, backend: str | None = None) -> BugSummary:
        """Summarize a bug visible to ``user_groups`` (None: public only); others are unknown (KeyError)."""
        return self.run("bug_summary", {"bug_id": bug_id, "kind": kind, "bugs_file": bugs_file, "backend": backend},
                        user_groups=user_groups)
