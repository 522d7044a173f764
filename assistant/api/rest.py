"""`chipassist serve`: the jobs as a REST API (FastAPI; OpenAPI schema at /docs), with the OpenAI facade.

    chipassist serve --port 8080                  # http://127.0.0.1:8080/docs
    curl -H "Authorization: Bearer $TOKEN" -d '{"question": "How is the UART baud rate set?"}' \\
         -H 'Content-Type: application/json' http://127.0.0.1:8080/api/ask

Endpoints: ``POST /api/<job>`` for every registered job (`assistant.jobs.all_jobs`; the body is the job's
remote input, `assistant.api.jobs.remote_input`, the response its result model; results that can be rated
carry ``answer_id``), ``POST /api/<job>/stream`` for jobs that stream (server-sent events: ``delta``
{text}, then ``answer`` {the result, answer_id}, or ``error`` {message}), ``POST /api/feedback``,
``GET /healthz`` (the process is up), ``GET /readyz`` (the index and embedder are loaded), and the OpenAI
facade under /v1 (`assistant.api.openai_facade`). With ``mcp`` given, the MCP server's streamable HTTP
endpoint (/mcp) is served by the same process and shares the Assistant (one index, one model); so are the
Slack bot (POST /slack/events) and the Chainlit chat page (/chat) with ``slack``/``chat`` given
(`chipassist serve --ui --slack`, `assistant.api.together`). The routes are built when the app is: a job
registered later appears in the next app.

Every /api and /v1 call needs ``Authorization: Bearer <token>`` (tokens file: `assistant.api.auth`); the
token's groups decide what any job may read. Each token has a token-bucket rate limit (429 with
Retry-After). A body over ``max_body_bytes`` gets 413, a field over its cap 422 naming the field; error
bodies never echo the input or the token, and exception text is scrubbed of the server's secrets.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import logging
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, create_model
from starlette.concurrency import run_in_threadpool

from assistant.api.auth import Principal, TokenBucket, TokenStore, safe_text
from assistant.api.jobs import RemoteInput, feedback_record, remote_input, to_request
from assistant.feedback import FeedbackStore
from assistant.jobs import Job, all_jobs

log = logging.getLogger("chipassist.api")
CHAT_PATH, SLACK_PATH = "/chat", "/slack/events"  # `chipassist serve --ui --slack`
MAX_BODY_BYTES = 2 << 20  # the largest input (explain_log's 1M-character log) fits, JSON-escaped
_bearer = HTTPBearer(auto_error=False, description="An API token from `chipassist api token add`.")


class Feedback(BaseModel):
    """A rating of, or a comment on, an answer a job returned (by its ``answer_id``)."""

    answer_id: str = Field(min_length=1, max_length=64)
    rating: int = Field(ge=-1, le=1, description="+1 good, -1 bad, 0 a comment only.")
    comment: str = Field("", max_length=4000)


class BodyLimit:
    """ASGI middleware: refuse a request body over ``limit`` bytes with 413, before any of it is parsed
    (by Content-Length, and by counting for chunked bodies). Paths under ``exempt`` prefixes (the chat page's
    uploads, the Slack endpoint) are left to the caps of what serves them."""

    def __init__(self, app, limit: int, exempt: tuple[str, ...] = ()) -> None:
        self.app, self.limit = app, limit
        self.exempt = tuple(p.rstrip("/") for p in exempt)

    def _exempt(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.exempt)

    def _too_large(self, size: str):
        return JSONResponse({"detail": f"request body: {size} bytes is over the {self.limit:,}-byte limit"}, 413)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self._exempt(scope["path"]):
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._too_large(f"{int(length):,}")(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"request body: more than {self.limit:,} bytes is over the limit")
            return message

        await self.app(scope, counted, send)


def sse(event: str, data: Any) -> str:
    """One server-sent event with a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class Api:
    """The app's shared state: the Assistant, tokens, rate limiter and answer log."""

    def __init__(self, bot: Any, tokens: TokenStore, *, rate_per_minute: float = 120, burst: int | None = None):
        self.bot = bot
        self.tokens = tokens
        self.limiter = TokenBucket(rate_per_minute, burst)
        self.feedback = FeedbackStore(bot.settings.feedback_db)
        self.ready = threading.Event()
        self.ready_error: str | None = None

    def caller(self, request: Request,
               credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        """The dependency every job endpoint uses: a known token (401 otherwise), within its rate (429)."""
        principal = self.tokens.verify(credentials.credentials if credentials else None)
        if principal is None:
            log.warning("%s %s: missing or unknown API token", request.method, request.url.path)
            raise HTTPException(401, "missing or unknown API token: send Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": "Bearer"})
        wait = self.limiter.take(principal.token_id)
        if wait:
            raise HTTPException(429, f"rate limit: {principal.user}'s token is over "
                                     f"{self.limiter.rate * 60:g} requests a minute; retry later",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return principal

    def _refused(self, job: Job, e: Exception) -> HTTPException:
        """Bad input is a 400 (404 for an unknown bug), with the server's secrets scrubbed from the text."""
        if isinstance(e, KeyError):  # an unknown bug, or one outside the caller's groups: the same answer
            return HTTPException(404, safe_text(str(e.args[0] if e.args else e), self.bot.settings))
        return HTTPException(400, safe_text(f"{job.name}: {e}", self.bot.settings))

    def run(self, job: Job, inp: BaseModel, caller: Principal) -> BaseModel:
        """Run ``job`` on a validated remote input for ``caller`` (the caller's groups, the request's options)."""
        try:
            return self.bot.run(job.name, to_request(job, inp), user_groups=caller.acl_groups)
        except (KeyError, ValueError) as e:
            raise self._refused(job, e) from None

    def stream(self, job: Job, inp: BaseModel, caller: Principal) -> Iterator[Any]:
        """``job``'s stream for ``caller``: text pieces, then the result."""
        return self.bot.stream(job.name, to_request(job, inp), user_groups=caller.acl_groups)

    def record(self, job: Job, result: BaseModel, caller: Principal, client: str = "api") -> str | None:
        """Log a result that can be rated, as ``job`` declares it; returns its answer id."""
        row = feedback_record(job, result)
        if row is None:
            return None
        return self.feedback.record_answer(row[1], client=client, user=caller.user, mode=row[0])

    def warm_up(self) -> None:
        """Open the index and load the embedder (a first search), so /readyz means the first call is fast."""
        try:
            self.bot.search("warm up", k=1)
        except Exception as e:  # reported by /readyz, and the log keeps the trace
            log.exception("warm-up failed")
            self.ready_error = safe_text(f"{type(e).__name__}: {e}", self.bot.settings)
        self.ready.set()


def _signed(fn, name: str, doc: str, body: type[RemoteInput], caller):
    """``fn(inp, caller)`` with the signature FastAPI reads: the body's model comes from the registry at run
    time, so the signature is built rather than written."""
    fn.__name__, fn.__doc__ = name, doc
    fn.__signature__ = inspect.Signature([
        inspect.Parameter("inp", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=body),
        inspect.Parameter("caller", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Principal,
                          default=Depends(caller))])
    return fn


def _job_endpoint(api: Api, job: Job, response_model: type[BaseModel]):
    def endpoint(inp, caller):
        result = api.run(job, inp, caller)
        return response_model(**result.model_dump(), answer_id=api.record(job, result, caller))

    return _signed(endpoint, job.name, job.description, remote_input(job), api.caller)


def _stream_endpoint(api: Api, job: Job):
    async def endpoint(inp, caller):
        stream = api.stream(job, inp, caller)
        try:  # the first item does the retrieval: bad input is still a plain 400 here
            first = await run_in_threadpool(next, stream)
        except (KeyError, ValueError) as e:
            raise api._refused(job, e) from None
        return StreamingResponse(_stream_events(api, job, first, stream, caller), media_type="text/event-stream")

    return _signed(endpoint, f"{job.name}_stream", f"{job.description} As server-sent events: `delta` {{text}} "
                   "pieces, then `answer` {the result, answer_id}.", remote_input(job), api.caller)


def _stream_events(api: Api, job: Job, first: Any, rest: Iterator[Any], caller: Principal) -> Iterator[str]:
    item = first
    try:
        while True:
            if isinstance(item, job.result):
                yield sse("answer", {**item.model_dump(mode="json"), "answer_id": api.record(job, item, caller)})
                return
            yield sse("delta", {"text": item})
            item = next(rest)
    except Exception as e:  # headers are sent: the error travels as an event
        log.exception("stream failed for %s", caller.user)
        yield sse("error", {"message": safe_text(f"{type(e).__name__}: {e}", api.bot.settings)})


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's default echoes each bad value back ("input"): a 1 MB paste, or a secret, would return whole
    errors = [{"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": err["msg"]}
              for err in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    if request.url.path.startswith("/v1/"):
        return JSONResponse({"error": {"message": summary, "type": "invalid_request_error", "code": None,
                                       "param": errors[0]["field"] if errors else None}}, 422)
    return JSONResponse({"detail": summary, "errors": errors}, 422)


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if request.url.path.startswith("/v1/"):  # the OpenAI error shape, so OpenAI clients show the message
        kind = {401: "invalid_api_key", 429: "rate_limit_exceeded", 404: "not_found"}.get(exc.status_code)
        body = {"error": {"message": exc.detail, "type": "invalid_request_error", "code": kind}}
    else:
        body = {"detail": exc.detail}
    return JSONResponse(body, exc.status_code, headers=getattr(exc, "headers", None))


def create_app(bot: Any, tokens: TokenStore, *, rate_per_minute: float = 120, burst: int | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, mcp=None, warm: bool = True, slack=None,
               chat: Callable[[FastAPI, str], None] | None = None, chat_path: str = CHAT_PATH) -> FastAPI:
    """The REST API over ``bot``. Served by the same process, over the same ``bot``: ``mcp`` (a FastMCP
    server) at /mcp, ``slack`` (a Bolt app built over ``bot``) at POST /slack/events, and the chat page at
    ``chat_path``, mounted by ``chat(app, chat_path)`` (`assistant.api.together.mount_chat`)."""
    from assistant.api.openai_facade import openai_router

    api = Api(bot, tokens, rate_per_minute=rate_per_minute, burst=burst)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:
            threading.Thread(target=api.warm_up, name="chipassist-warm-up", daemon=True).start()
        else:
            api.ready.set()
        async with mcp.session_manager.run() if mcp is not None else contextlib.nullcontext():
            yield

    app = FastAPI(title="ChipAssist API", version="1", lifespan=lifespan,
                  description="Grounded chip design Q&A with citations, Tcl checks and generation, bug summaries. "
                              "Authenticate with `Authorization: Bearer <token>` (`chipassist api token add`).")
    app.state.api, app.state.slack = api, slack
    app.add_middleware(BodyLimit, limit=max_body_bytes, exempt=(chat_path, SLACK_PATH) if chat or slack else ())
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)

    for job in all_jobs():  # one endpoint per registered job (and a streaming one where it streams)
        response_model = create_model(f"{job.result.__name__}Response", __base__=job.result,
                                      answer_id=(str | None, None))
        app.post(f"/api/{job.name}", response_model=response_model, tags=["jobs"], summary=job.title,
                 description=job.description)(_job_endpoint(api, job, response_model))
        if job.stream is not None:
            app.post(f"/api/{job.name}/stream", tags=["jobs"], response_class=StreamingResponse,
                     summary=f"{job.title} (server-sent events)",
                     responses={200: {"content": {"text/event-stream": {}}}})(_stream_endpoint(api, job))

    @app.post("/api/feedback", tags=["feedback"])
    def feedback(fb: Feedback, caller: Principal = Depends(api.caller)) -> dict[str, Any]:
        """Rate an answer (+1/-1) or comment on it (0), by the answer_id a job returned."""
        try:
            fid = api.feedback.add_feedback(fb.answer_id.removeprefix("chatcmpl-"), fb.rating, comment=fb.comment,
                                            user=caller.user)
        except KeyError:
            raise HTTPException(404, f"answer_id: no answer {fb.answer_id!r}") from None
        return {"feedback_id": fid}

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """Ready to answer: the index is open and the embedder loaded (503 until then, or on failure)."""
        if not api.ready.is_set():
            return JSONResponse({"ready": False, "reason": "loading the index"}, 503)
        if api.ready_error:
            return JSONResponse({"ready": False, "reason": api.ready_error}, 503)
        return JSONResponse({"ready": True})

    app.include_router(openai_router(api))
    if slack is not None:  # the Bolt app's own cap, signature check and dispatch (assistant.slack.server)
        from assistant.slack.server import slack_router

        app.include_router(slack_router(slack, path=SLACK_PATH))
    if chat is not None:
        @app.get(chat_path, include_in_schema=False)
        def chat_page() -> RedirectResponse:
            """The page lives at ``{chat_path}/``; without this, /mcp's catch-all mount would answer 404."""
            return RedirectResponse(chat_path + "/")

        chat(app, chat_path)
    if mcp is not None:  # last: a catch-all mount serving /mcp (and its metadata routes) from the same process
        app.mount("/", mcp.streamable_http_app())
    return app
