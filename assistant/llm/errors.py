"""The one error every LLM backend raises when it cannot produce text (server down, timeout, model failure).

`assistant.qa` catches it and falls back to a retrieval-only answer with a warning, so a broken LLM never
takes the assistant down; the message says what failed and where, for the user and the logs.
"""
from __future__ import annotations


class LLMError(RuntimeError):
    """The LLM backend failed; the message names the backend and the cause."""
