"""An OpenAI-compatible facade: `/v1/models` and `/v1/chat/completions`, so any OpenAI client (editor
plugins, Open WebUI, the `openai` package) can use ChipAssist as a model.

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8080/v1", api_key=TOKEN)   # a `chipassist api token add` token
    client.chat.completions.create(model="chipassist", messages=[{"role": "user", "content": "..."}])

The last user message is the question; earlier user/assistant turns are the history (system messages are
ignored: the assistant's own grounding prompt decides how it answers). The reply is the grounded answer
citing [n], followed by its numbered sources (path, lines, title) unless the text already lists them
(retrieval-only answers); the sources also come as a `sources` field on the response (non-standard,
ignored by clients that do not know it). `stream: true` sends chat.completion.chunk events ending with
``data: [DONE]``. It runs the registry's ``ask`` job (`assistant.jobs`), logged for feedback as that job
declares; the token's groups apply exactly as for the REST and MCP jobs.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from assistant.api.auth import Principal, safe_text
from assistant.api.jobs import MAX_ITEMS
from assistant.jobs import get
from assistant.qa import MAX_QUESTION_CHARS
from assistant.types import Answer, AskRequest, Source

MODEL_ID = "chipassist"
MAX_HISTORY_TURNS = MAX_ITEMS  # as the REST and MCP `ask` take
MAX_MESSAGES = 2 * MAX_HISTORY_TURNS + 4  # the history the assistant keeps, a system prompt and the question


class TextPart(BaseModel):
    """One part of a message's content list; only ``text`` parts are read (images and the like are ignored)."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str = Field("", max_length=MAX_QUESTION_CHARS * 4)


class ChatMessage(BaseModel):
    """One OpenAI chat message: a role and its content (a string or a list of parts)."""

    model_config = ConfigDict(extra="allow")  # name, tool_calls...: accepted and ignored
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = Field(None, max_length=MAX_QUESTION_CHARS * 4)

    def text(self) -> str:
        """The message's text: the content string, or its text parts joined by newlines."""
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The body of ``POST /v1/chat/completions``: the model name, the messages and whether to stream."""

    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, stream_options...: the server's settings rule
    model: str = Field(max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False


def cited_text(answer: Answer) -> str:
    """The answer's text followed by its numbered sources (retrieval-only text lists them already)."""
    if answer.retrieval_only or not answer.sources:
        return answer.text
    return answer.text + sources_block(answer.sources)


def sources_block(sources: list[Source]) -> str:
    """The numbered "Sources:" list appended to a cited answer ("" without sources)."""
    lines = [f"[{s.n}] {s.where()} — {s.title}" for s in sources]
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


def _question_and_history(req: ChatRequest) -> tuple[str, list[dict[str, str]]]:
    turns = [m for m in req.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise HTTPException(400, "messages: the last user/assistant message must be a non-empty user message")
    if len(turns[-1].text()) > MAX_QUESTION_CHARS:
        raise HTTPException(422, f"messages[-1].content: {len(turns[-1].text()):,} characters is over the "
                                 f"{MAX_QUESTION_CHARS:,}-character limit for a question")
    history = [{"role": m.role, "content": m.text()} for m in turns[:-1]][-2 * MAX_HISTORY_TURNS:]
    return turns[-1].text(), history


def _chunk(cid: str, created: int, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def openai_router(api) -> APIRouter:
    """The /v1 routes over ``api`` (an `assistant.api.rest.Api`: its Assistant, auth, limiter and log)."""
    router = APIRouter(prefix="/v1", tags=["openai"])
    bot = api.bot

    @router.get("/models")
    def models(caller: Principal = Depends(api.caller)) -> dict[str, Any]:
        """The one model: ChipAssist's grounded answers."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "chipassist"}]}

    @router.post("/chat/completions")
    async def chat_completions(req: ChatRequest, caller: Principal = Depends(api.caller)):
        """An OpenAI chat completion answered from the index with citations (stream or not)."""
        if req.model != MODEL_ID:
            raise HTTPException(404, f"model: unknown model {req.model[:80]!r}; this server has {MODEL_ID!r}")
        question, history = _question_and_history(req)
        ask, request = get("ask"), AskRequest(question=question, history=history)
        created = int(time.time())
        if not req.stream:
            try:
                answer = await run_in_threadpool(bot.run, ask.name, request, user_groups=caller.acl_groups)
            except ValueError as e:
                raise HTTPException(400, safe_text(f"messages: {e}", bot.settings)) from None
            answer_id = api.record(ask, answer, caller, client="openai")
            return {"id": f"chatcmpl-{answer_id}", "object": "chat.completion", "created": created,
                    "model": MODEL_ID, "choices": [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant", "content": cited_text(answer)}}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    "sources": [s.model_dump(mode="json") for s in answer.sources]}
        stream = bot.stream(ask.name, request, user_groups=caller.acl_groups)
        try:
            first = await run_in_threadpool(next, stream)
        except ValueError as e:
            raise HTTPException(400, safe_text(f"messages: {e}", bot.settings)) from None
        return StreamingResponse(_stream(api, ask, caller, first, stream, created), media_type="text/event-stream")

    return router


def _stream(api, ask, caller: Principal, first, rest: Iterator, created: int) -> Iterator[str]:
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    yield _chunk(cid, created, {"role": "assistant", "content": ""})
    item = first
    try:
        while not isinstance(item, Answer):
            yield _chunk(cid, created, {"content": item})
            item = next(rest)
        tail = "" if item.retrieval_only else sources_block(item.sources)
        if tail:
            yield _chunk(cid, created, {"content": tail})
        answer_id = api.record(ask, item, caller, client="openai")
        yield _chunk(cid, created, {}, "stop", answer_id=answer_id,
                     sources=[s.model_dump(mode="json") for s in item.sources])
    except Exception as e:  # headers are sent: say so in the text, and end the stream properly
        message = safe_text(f"{type(e).__name__}: {e}", api.bot.settings)
        yield _chunk(cid, created, {"content": f"\n\n[error: {message}]"}, "stop")
    yield "data: [DONE]\n\n"
