"""LLM backends behind one small interface: `openai` (any OpenAI-compatible server), `local`, `none`."""
from __future__ import annotations

from assistant.llm.base import LLM, get_llm

__all__ = ["LLM", "get_llm"]
