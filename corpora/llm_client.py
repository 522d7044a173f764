"""The one OpenAI-compatible chat client: every part of ChipAssist that talks to an LLM server uses it.

    client = ChatClient("http://gpu-box:8000/v1")          # key from $OPENAI_API_KEY, else "EMPTY"
    print(client.complete(client.first_model(), [{"role": "user", "content": "What does the CRU do?"}]))

The assistant's `openai` backend, adaptation's gen-data teacher and the retriever's gen-pairs writer all build
their client here, so they share one set of defaults (API key from ``$OPENAI_API_KEY``, the placeholder
``EMPTY`` when none is set, a 120 s timeout, one retry) and one error: every failure of the server (down,
timeout, HTTP error, a stream cut short) is raised as `LLMError`, whose message names the server's URL and
what to check. It lives in corpora/, the bottom layer, because the retriever and adapters may not import the
assistant or each other.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

API_KEY_ENV = "OPENAI_API_KEY"  # where the key is read from unless a caller names another variable
NO_KEY = "EMPTY"  # vLLM without --api-key accepts any key, but the openai client insists on having one
TIMEOUT_S = 120.0  # per request: a long answer from a loaded CPU server takes minutes, not hours
MAX_RETRIES = 1  # one retry rides out a restart or a dropped connection without hiding a dead server

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


class LLMError(RuntimeError):
    """An LLM server or backend could not produce text; the message names the server and what to check.

    ``kind`` says which failure it was, for callers that react differently (gen-data stops on ``unreachable``
    and ``auth``): ``timeout``, ``unreachable``, ``auth``, ``not_found``, ``http``, ``protocol`` or ``backend``.
    """

    def __init__(self, message: str, kind: str = "backend", status: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.status = kind, status


def normalise_base_url(url: str) -> str:
    """Accept "http://host:8000" as well as "http://host:8000/v1" (the client wants the /v1 root)."""
    url = url.rstrip("/")
    return url + "/v1" if urlsplit(url).path in ("", "/") else url


def resolve_api_key(key: str | None = None, env: str = API_KEY_ENV) -> str:
    """The key to send: ``key`` if given, else ``$env``, else the placeholder every local server accepts."""
    return key or os.environ.get(env) or NO_KEY


class ChatClient:
    """Chat completions (plain and streamed) and the model listing of one OpenAI-compatible server.

    Args:
        base_url: the server, with or without its /v1 root.
        api_key: the key; None reads ``$api_key_env`` (unset: ``EMPTY``).
        timeout_s / max_retries: per request; the same defaults for every caller.
    """

    def __init__(self, base_url: str, *, api_key: str | None = None, api_key_env: str = API_KEY_ENV,
                 timeout_s: float = TIMEOUT_S, max_retries: int = MAX_RETRIES) -> None:
        import openai  # imported here so that importing LLMError stays cheap for the local backends

        if not base_url:
            raise ValueError("base_url: set it to the server's URL, e.g. http://127.0.0.1:8000/v1")
        self.base_url = normalise_base_url(base_url)
        self.api_key_env, self.timeout_s = api_key_env, timeout_s
        self.api_key = resolve_api_key(api_key, api_key_env)
        self.openai = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=timeout_s,
                                    max_retries=max_retries)

    def models(self, *, timeout_s: float | None = None, retries: int | None = None) -> list[dict]:
        """The server's GET /v1/models entries (id, and e.g. vLLM's max_model_len); a quick check passes a
        short ``timeout_s`` and ``retries=0``."""
        import openai

        client = self.openai
        if timeout_s is not None or retries is not None:
            client = client.with_options(timeout=timeout_s or self.timeout_s,
                                         max_retries=self.openai.max_retries if retries is None else retries)
        try:
            return [m.model_dump() for m in client.models.list().data]
        except openai.OpenAIError as e:
            raise self.error(e, "listing models") from e

    def first_model(self) -> str:
        """The first model the server lists: what a single-model `vllm serve` expects to be asked for."""
        models = self.models()
        if not models:
            raise LLMError(f"OpenAI-compatible server at {self.base_url} lists no models; name the model to use",
                           kind="not_found")
        return models[0]["id"]

    def complete(self, model: str, messages: list[Message], *, max_tokens: int | None = None,
                 temperature: float | None = None, stop: list[str] | None = None, seed: int | None = None) -> str:
        """The reply to ``messages`` (one chat completion); LLMError on any failure."""
        import openai

        try:
            response = self.openai.chat.completions.create(**_request(model, messages, max_tokens, temperature,
                                                                      stop, seed))
        except openai.OpenAIError as e:
            raise self.error(e, "chat completion") from e
        if not response.choices:
            raise LLMError(f"OpenAI-compatible server at {self.base_url} returned no choices", kind="protocol")
        return response.choices[0].message.content or ""

    def stream(self, model: str, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None, stop: list[str] | None = None,
               seed: int | None = None) -> Iterator[str]:
        """The reply to ``messages`` piece by piece; LLMError on any failure, including a stream that ends
        without a finish_reason (a server that dies mid-answer just closes the connection)."""
        import httpx
        import openai

        finished = False
        try:
            chunks = self.openai.chat.completions.create(
                **_request(model, messages, max_tokens, temperature, stop, seed), stream=True)
            with chunks:  # closes the HTTP response if the consumer stops early
                for chunk in chunks:
                    if not chunk.choices:
                        continue
                    finished = finished or chunk.choices[0].finish_reason is not None
                    if chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except (openai.OpenAIError, httpx.HTTPError) as e:
            raise self.error(e, "streaming chat completion") from e
        if not finished:
            raise LLMError(f"OpenAI-compatible server at {self.base_url}: the stream ended before the answer "
                           "was finished (no finish_reason): the server stopped or the connection dropped; "
                           "check the server's log", kind="protocol")

    def error(self, e: Exception, doing: str) -> LLMError:
        """``e`` (an openai or httpx error) as one LLMError naming the server, what failed and what to check."""
        import openai

        where = f"OpenAI-compatible server at {self.base_url}"
        if isinstance(e, openai.APITimeoutError):
            return LLMError(f"{where}: {doing} timed out after {self.timeout_s:g} s; check the server's load "
                            "or raise the timeout", kind="timeout")
        if isinstance(e, openai.APIConnectionError):
            return LLMError(f"{where} is unreachable ({doing}): is the server running? check the URL and port "
                            f"({e.__cause__ or e})", kind="unreachable")
        if isinstance(e, openai.APIStatusError):
            hint = {401: f"check the API key (${self.api_key_env})", 403: f"check the API key (${self.api_key_env})",
                    404: "check the model name and that the URL is the server's /v1 root"}.get(e.status_code)
            kind = {401: "auth", 403: "auth", 404: "not_found"}.get(e.status_code, "http")
            return LLMError(f"{where}: {doing} failed with HTTP {e.status_code}: {e.message}"
                            + (f"; {hint}" if hint else ""), kind=kind, status=e.status_code)
        return LLMError(f"{where}: {doing} failed: {e}", kind="protocol")


def _request(model: str, messages: list[Message], max_tokens: int | None, temperature: float | None,
             stop: list[str] | None, seed: int | None = None) -> dict:
    """The chat-completion body; options left at None are left to the server's defaults."""
    request: dict = {"model": model, "messages": messages}
    if max_tokens is not None:
        request["max_tokens"] = max_tokens
    if temperature is not None:
        request["temperature"] = temperature
    if stop:
        request["stop"] = stop
    if seed is not None:  # vLLM and OpenAI take a per-request seed for sampling
        request["seed"] = seed
    return request
