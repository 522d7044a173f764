"""The `openai` backend: any OpenAI-compatible chat server (`vllm serve`, llama.cpp server, OpenAI itself).

    # vllm serve /models/chipnemo-13b --port 8000
    llm = OpenAIBackend(LLMConfig(backend="openai", base_url="http://gpu-box:8000/v1"))
    print(llm.complete([{"role": "user", "content": "What does the CRU do?"}]))

Base URL, model and key come from the config, which reads $OPENAI_BASE_URL / $OPENAI_API_KEY /
$CHIPASSIST_LLM_MODEL. With no model configured, the first model the server lists (GET /v1/models) is used,
which is what a single-model `vllm serve` expects. The context is the smaller of llm.context_tokens and the
`max_model_len` vLLM lists; tokens are counted with the server's own tokenizer through vLLM's POST /tokenize
(one short request per count) when the server has it, else estimated conservatively from the length.
Requests go through `corpora.llm_client.ChatClient` (the client gen-data and gen-pairs use too), so every
failure (server down, timeout, HTTP error) is raised as LLMError naming the server and what to check, and
`assistant.qa` can fall back to a retrieval-only answer.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator

import httpx

from assistant.config import LLMConfig
from assistant.llm.base import Message
from corpora.llm_client import ChatClient, LLMError, normalise_base_url

__all__ = ["OpenAIBackend", "normalise_base_url"]

# Servers rarely expose their tokenizer over the OpenAI API, so prompts are budgeted with an estimate.
# BPE tokenizers average ~4 characters per token on English and ~3 on code; 3 keeps the estimate on the safe side.
CHARS_PER_TOKEN = 3.0
RETRY_LISTING_S = 10.0  # after a failed GET /v1/models, fail fast for this long


class OpenAIBackend:
    """The LLM protocol over an OpenAI-compatible server, through the shared `corpora.llm_client.ChatClient`."""

    name = "openai"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ValueError("llm.base_url: set it (or $OPENAI_BASE_URL) to the server's URL, e.g. http://host:8000/v1")
        self.chat = ChatClient(base_url, api_key=config.api_key.get_secret_value() if config.api_key else None,
                               timeout_s=config.timeout_s)
        self.base_url = self.chat.base_url
        self._model = config.model
        self._card: dict | None = None  # the model's entry in GET /v1/models, once listed
        self._listing_error: tuple[float, LLMError] | None = None
        # vLLM serves /tokenize next to /v1, with the same key.
        self._tokenize_url: str | None = self.base_url.removesuffix("/v1") + "/tokenize"
        self._http = httpx.Client(timeout=min(config.timeout_s, 10.0),
                                  headers={"Authorization": f"Bearer {self.chat.api_key}"})

    @property
    def model(self) -> str:
        """The configured model id, else the first one the server lists (resolved once, on first use)."""
        if not self._model:
            self._model = self._model_card()["id"]
        return self._model

    @property
    def context_tokens(self) -> int:
        """llm.context_tokens, capped by the server's max_model_len when it lists one (vLLM does)."""
        try:
            served = self._model_card().get("max_model_len")
        except LLMError:
            served = None  # the request itself will report the server's state
        return min(self.config.context_tokens, served) if served else self.config.context_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the server's tokenizer (vLLM's /tokenize), else a safe estimate from its length."""
        estimate = math.ceil(len(text) / CHARS_PER_TOKEN)
        if self._tokenize_url is None:
            return estimate
        try:
            r = self._http.post(self._tokenize_url, json={"model": self.model, "prompt": text})
        except (httpx.HTTPError, LLMError):
            return estimate  # the server is in trouble: the request itself will say so
        if r.status_code >= 500:
            return estimate
        try:
            count = r.json().get("count") if r.status_code == 200 else None
        except ValueError:
            count = None
        if isinstance(count, int):
            return count
        self._tokenize_url = None  # no vLLM-style /tokenize here (404, or another API): estimate from now on
        return estimate

    def _model_card(self) -> dict:
        """This model's entry in GET /v1/models (listed once; a failure is remembered for a few seconds so
        that one question does not wait for a down server again and again)."""
        if self._card is None:
            if self._listing_error and time.monotonic() < self._listing_error[0]:
                raise self._listing_error[1]
            try:
                cards = self.chat.models()
            except LLMError as error:
                self._listing_error = (time.monotonic() + RETRY_LISTING_S, error)
                raise
            if not cards:
                raise LLMError(f"OpenAI-compatible server at {self.base_url} lists no models; set llm.model")
            wanted = self._model or cards[0]["id"]
            self._card = next((c for c in cards if c["id"] == wanted), {"id": wanted})
        return self._card

    def complete(self, messages: list[Message], *, max_tokens: int | None = None,
                 temperature: float | None = None, stop: list[str] | None = None, seed: int | None = None) -> str:
        """The whole reply to ``messages``; LLMError naming the server on any failure."""
        return self.chat.complete(self.model, messages, **self._options(max_tokens, temperature, stop, seed))

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None, stop: list[str] | None = None,
               seed: int | None = None) -> Iterator[str]:
        """The reply piece by piece; LLMError on any failure, also when the stream is cut short."""
        yield from self.chat.stream(self.model, messages, **self._options(max_tokens, temperature, stop, seed))

    def _options(self, max_tokens: int | None, temperature: float | None, stop: list[str] | None,
                 seed: int | None) -> dict:
        """Per-request options, falling back on the configured ones."""
        return dict(max_tokens=max_tokens or self.config.max_new_tokens,
                    temperature=self.config.temperature if temperature is None else temperature, stop=stop,
                    seed=seed)
