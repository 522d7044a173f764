"""The one error every LLM backend raises when it cannot produce text (server down, timeout, model failure).

`assistant.qa` catches it and falls back to a retrieval-only answer with a warning, so a broken LLM never
takes the assistant down; the message says what failed and where, for the user and the logs. It is defined
with the shared OpenAI-compatible client (`corpora.llm_client`), so gen-data and gen-pairs raise it too.
"""
from __future__ import annotations

from corpora.llm_client import LLMError

__all__ = ["LLMError"]
