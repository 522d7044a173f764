"""A real OpenAI-compatible HTTP server for tests: it stands in for `vllm serve` on a machine without a GPU.

    with OpenAIServer(LocalBackend(LLMConfig(backend="local", model_path=tiny_dir)), model_id="tiny") as server:
        OpenAIBackend(LLMConfig(backend="openai", base_url=server.base_url)).complete(messages)

    python -m tests.support.openai_server --model-path DIR --port 8001     # by hand, for demos

FastAPI + uvicorn on 127.0.0.1 (a free port, in a background thread) serving GET /v1/models,
POST /v1/chat/completions with and without `stream: true`, and vLLM's POST /tokenize; streamed answers are SSE chunks in OpenAI's format
(`chat.completion.chunk`, a role delta first, a finish_reason chunk last) ending with `data: [DONE]`. Generation
is delegated to any object with the LLM protocol (the LocalBackend over a tiny model in tests, or a ScriptedLLM
that answers from a script, for clients that parse replies, e.g. the gen-data teacher). An optional
API key is enforced like `vllm serve --api-key`.

    python -m tests.support.openai_server --replies replies.json --port 8001  # scripted: a JSON list, served in turn
"""
from __future__ import annotations

import argparse
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field


class ChatMessage(BaseModel):
    role: str
    content: str


class TokenizeRequest(BaseModel):
    model: str
    prompt: str


class ChatRequest(BaseModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": status}}, status_code=status)


def make_app(llm, model_id: str, *, api_key: str | None = None) -> FastAPI:
    """The OpenAI-compatible API over ``llm`` (an object with the LLM protocol), serving one model id."""
    app = FastAPI(title="tiny OpenAI-compatible server")
    created = int(time.time())

    @app.middleware("http")
    async def check_key(request: Request, call_next):
        if api_key and request.headers.get("authorization") != f"Bearer {api_key}":
            return _error(401, "Unauthorized", "AuthenticationError")
        return await call_next(request)

    @app.get("/v1/models")
    def list_models():
        card = {"id": model_id, "object": "model", "created": created, "owned_by": "chipassist-tests",
                "max_model_len": llm.context_tokens}
        return {"object": "list", "data": [card]}

    @app.post("/tokenize")  # vLLM's extension: lets clients budget prompts with the served tokenizer
    def tokenize(req: TokenizeRequest):
        if req.model != model_id:
            return _error(404, f"The model `{req.model}` does not exist.", "NotFoundError")
        return {"count": llm.count_tokens(req.prompt), "max_model_len": llm.context_tokens}

    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest):
        if req.model != model_id:
            return _error(404, f"The model `{req.model}` does not exist.", "NotFoundError")
        messages = [m.model_dump() for m in req.messages]
        stop = [req.stop] if isinstance(req.stop, str) else req.stop
        kw = dict(max_tokens=req.max_completion_tokens or req.max_tokens, temperature=req.temperature, stop=stop,
                  seed=req.seed)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if req.stream:
            return StreamingResponse(_sse(llm.stream(messages, **kw), completion_id, model_id),
                                     media_type="text/event-stream")
        text = llm.complete(messages, **kw)
        prompt_tokens = sum(llm.count_tokens(m["content"]) for m in messages)
        completion_tokens = llm.count_tokens(text)
        return {
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    return app


def _sse(pieces: Iterator[str], completion_id: str, model_id: str) -> Iterator[str]:
    def chunk(delta: dict, finish_reason: str | None = None) -> str:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model_id, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                "finish_reason": finish_reason}]}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in pieces:
        yield chunk({"content": piece})
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


class ScriptedLLM:
    """The LLM protocol answering from a script: ``replies(messages) -> str``, or a list of replies served in turn
    (cycled). Every request's messages are kept in ``calls``; tokens are counted as whitespace-separated words."""

    def __init__(self, replies: Callable[[list[dict]], str] | list[str], context_tokens: int = 32768):
        if not callable(replies) and not replies:
            raise ValueError("ScriptedLLM needs a reply function or a non-empty list of replies")
        self.replies, self.context_tokens = replies, context_tokens
        self.calls: list[list[dict]] = []
        self._lock = threading.Lock()

    def complete(self, messages: list[dict], **kw) -> str:
        with self._lock:
            self.calls.append(messages)
            n = len(self.calls) - 1
        return self.replies(messages) if callable(self.replies) else self.replies[n % len(self.replies)]

    def stream(self, messages: list[dict], **kw) -> Iterator[str]:
        yield self.complete(messages, **kw)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpenAIServer:
    """Runs ``make_app(llm, model_id)`` with uvicorn in a daemon thread; use as a context manager."""

    def __init__(self, llm, model_id: str = "tiny-llama", *, api_key: str | None = None, port: int | None = None):
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(make_app(llm, model_id, api_key=api_key), host="127.0.0.1", port=self.port,
                                log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="openai-test-server", daemon=True)

    def __enter__(self) -> "OpenAIServer":
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"test OpenAI server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def main() -> None:
    from assistant.config import LLMConfig
    from assistant.llm.local_backend import LocalBackend

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path")
    parser.add_argument("--replies", help="JSON file with a list of replies: serve a ScriptedLLM instead of a model")
    parser.add_argument("--adapter-path")
    parser.add_argument("--model-id", default="tiny-llama")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key")
    args = parser.parse_args()
    if args.replies:
        with open(args.replies) as f:
            llm = ScriptedLLM(json.load(f))
    elif args.model_path:
        llm = LocalBackend(LLMConfig(backend="local", model_path=args.model_path, adapter_path=args.adapter_path))
    else:
        parser.error("give --model-path or --replies")
    uvicorn.run(make_app(llm, args.model_id, api_key=args.api_key), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
