"""The one service API. The CLI, the Chainlit UI and the Slack bot call only this.

    from assistant.config import load_settings
    from assistant.service import Assistant
    bot = Assistant(load_settings())
    answer = bot.ask("How is the UART baud rate set?", user_groups={"public"})

Heavy parts (the index, the embedding model, the LLM) load lazily on first use and are shared.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from assistant.config import Settings, load_settings
from assistant.types import Answer, BugSummary, CheckResult, TclGeneration


class Assistant:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._lock = threading.Lock()
        self._index = None
        self._llm = None
        self._llm_loaded = False

    # -- shared resources ---------------------------------------------------------------------
    @property
    def index(self):
        """The retriever index (opened once, thread-safe for reads)."""
        with self._lock:
            if self._index is None:
                from retriever.index import Index

                self._index = Index.open(self.settings.index_dir)
            return self._index

    @property
    def llm(self):
        """The configured LLM backend, or None for the retrieval-only `none` backend."""
        with self._lock:
            if not self._llm_loaded:
                from assistant.llm import get_llm

                self._llm = get_llm(self.settings.llm)
                self._llm_loaded = True
            return self._llm

    # -- the three jobs ------------------------------------------------------------------------
    def search(self, query: str, *, k: int | None = None, user_groups: Iterable[str] | None = None, **kw: Any):
        from assistant.qa import search

        return search(self, query, k=k, user_groups=user_groups, **kw)

    def ask(self, question: str, *, k: int | None = None, user_groups: Iterable[str] | None = None,
            history: list[dict[str, str]] | None = None) -> Answer:
        from assistant.qa import answer_question

        return answer_question(self, question, k=k, user_groups=user_groups, history=history)

    def ask_stream(self, question: str, *, k: int | None = None, user_groups: Iterable[str] | None = None,
                   history: list[dict[str, str]] | None = None) -> Iterator[str | Answer]:
        """Yield answer text pieces as they are generated, then the final Answer."""
        from assistant.qa import stream_answer

        return stream_answer(self, question, k=k, user_groups=user_groups, history=history)

    def tcl_generate(self, task: str, *, tool: str = "yosys", design: Path | None = None, rounds: int = 2,
                     user_groups: Iterable[str] | None = None, references: bool = True,
                     run_unsafe: bool = False) -> TclGeneration:
        """Write a Tcl script for ``task``, check it in the sandbox and repair it for up to ``rounds`` rounds.
        A script with unsafe constructs is run only with ``run_unsafe`` (the user asked explicitly), and then
        confined; ``references=False`` leaves retrieved docs and scripts out of the prompt."""
        from assistant.tcl.generate import generate_script

        return generate_script(self, task, tool=tool, design=design, rounds=rounds, user_groups=user_groups,
                               references=references, run_unsafe=run_unsafe)

    def tcl_check(self, script: str, *, tool: str = "yosys", design: Path | None = None) -> CheckResult:
        """Check a user's own (pasted) script: it runs in the sandbox even when lint flags it unsafe, and
        what comes back is scrubbed of the server's secrets."""
        from assistant.config import secret_values
        from assistant.tcl.check import check_script

        return check_script(script, tool=tool, design=design, secrets=secret_values(self.settings))

    def bugs_import(self, path: Path, *, acl: Iterable[str] | None = None):
        """Import a bug export; its bugs get the strictest of the manifests above it, ``acl`` and their own."""
        from assistant.bugs.store import BugStore

        return BugStore(self.settings.bugs_db).import_file(path, acl=acl)

    def bug_summary(self, bug_id: str, *, kind: str = "all", bugs_file: Path | None = None,
                    user_groups: Iterable[str] | None = None) -> BugSummary:
        """Summarize a bug visible to ``user_groups`` (None: public only); others are unknown (KeyError)."""
        from assistant.bugs.summarize import summarize_bug

        return summarize_bug(self, bug_id, kind=kind, bugs_file=bugs_file, user_groups=user_groups)
