"""The LLM interface every backend implements, and the factory that picks one by name."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from assistant.config import LLMConfig

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@runtime_checkable
class LLM(Protocol):
    name: str  # backend name: "openai" | "local" | "llamacpp"
    model: str  # model id or folder name, recorded with feedback
    context_tokens: int

    def complete(self, messages: list[Message], *, max_tokens: int | None = None,
                 temperature: float | None = None, stop: list[str] | None = None) -> str: ...

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None, stop: list[str] | None = None) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


def get_llm(config: LLMConfig) -> LLM | None:
    """Build the configured backend; None means retrieval-only (`none`)."""
    if config.backend == "none":
        return None
    if config.backend == "openai":
        from assistant.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "local":
        from assistant.llm.local_backend import LocalBackend

        return LocalBackend(config)
    if config.backend == "llamacpp":
        from assistant.llm.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(config)
    raise ValueError(f"llm.backend: unknown backend {config.backend!r}")
