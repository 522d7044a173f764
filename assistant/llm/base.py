"""The LLM interface every backend implements, and the factory that picks one by name."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from assistant.config import LLMConfig

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@runtime_checkable
class LLM(Protocol):
    """What every LLM backend offers the service (Q&A, Tcl generation, bug summaries, log triage).

    Attributes:
        name: the backend, "openai" | "local" | "llamacpp" (recorded with each answer).
        model: the model id or folder name (recorded with feedback).
        context_tokens: the model's context window; prompts are fitted to it with ``count_tokens``.

    ``complete`` returns the whole reply; ``stream`` yields it in pieces that join to the same text. Both
    raise ``assistant.llm.errors.LLMError`` when the backend fails (server down, timeout), which callers turn
    into a retrieval-only answer. ``count_tokens`` counts with the model's own tokenizer.
    """

    name: str  # backend name: "openai" | "local" | "llamacpp"
    model: str  # model id or folder name, recorded with feedback
    context_tokens: int

    def complete(self, messages: list[Message], *, max_tokens: int | None = None,
                 temperature: float | None = None, stop: list[str] | None = None, seed: int | None = None) -> str:
        """The reply to ``messages`` (chat format), at most ``max_tokens`` new tokens. ``seed`` picks the
        sample when ``temperature`` > 0: the same prompt and seed give the same reply where the backend can
        (None: the backend's fixed default, so benchmarks repeat); several seeds give several candidates."""
        ...

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None, stop: list[str] | None = None,
               seed: int | None = None) -> Iterator[str]:
        """The reply to ``messages`` in pieces as they are generated."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's tokenizer."""
        ...


class LLMProxy:
    """Stands in front of a backend with its identity: name, model, context window, config and prompt budgets,
    and its tokenizer, so prompts are built exactly as for the backend itself. Subclasses decide what
    ``complete`` does (record and forward, answer from elsewhere); ``stream`` yields ``complete``'s reply."""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self.name, self.model, self.context_tokens = llm.name, llm.model, llm.context_tokens
        self.config = getattr(llm, "config", None)
        self.default_prompt_tokens = getattr(llm, "default_prompt_tokens", None)
        self.default_tcl_prompt_tokens = getattr(llm, "default_tcl_prompt_tokens", None)

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the backend's own tokenizer."""
        return self.llm.count_tokens(text)

    def complete(self, messages: list[Message], **kw) -> str:
        """The backend's reply (subclasses record it, or answer without the backend)."""
        return self.llm.complete(messages, **kw)

    def stream(self, messages: list[Message], **kw) -> Iterator[str]:
        """``complete``'s whole reply as one piece."""
        yield self.complete(messages, **kw)


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
