"""Serve the Bolt app: HTTP mode (FastAPI + uvicorn, `POST /slack/events`) or Socket Mode.

`slack_router` is the HTTP endpoint alone, for `chipassist serve --slack` (the bot inside the API process).

Bolt's own `App.start()` is a development server; uvicorn is what we run behind a proxy.

The HTTP endpoint is the bot's trust boundary, so it checks in this order, before Bolt sees anything:
1. size: a declared `Content-Length` over `slack.max_body_bytes` is refused (413) unread, and the body is
   read in pieces and refused as soon as it grows past the cap (a chunked upload has no length to trust);
2. signature: Slack's HMAC over the raw bytes and timestamp, so nothing unsigned is ever decoded or
   parsed; a missing, stale or junk timestamp or signature is a plain 401;
3. shape: a signed body that is not UTF-8, or whose JSON is malformed or not an object, is a 400.
Bolt verifies the signature again inside `dispatch` (harmless; it keeps Bolt's own guard on).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from slack_bolt import App, BoltRequest
from starlette.concurrency import run_in_threadpool

from assistant.config import SlackConfig

log = logging.getLogger("chipassist.slack")
_MAX_AGE_S = 5 * 60


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int) -> bytes:
    """The request body, refused (``_TooLarge``) before more than ``limit`` bytes are held in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise _TooLarge
        parts.append(part)
    return b"".join(parts)


def _signed(secret: bytes, body: bytes, headers, now: float | None = None) -> bool:
    """Slack's v0 signature (HMAC-SHA256 of ``v0:{timestamp}:{body}``) checked on the raw bytes.

    Written out rather than taken from `slack_sdk.signature.SignatureVerifier`, which decodes the body as
    UTF-8 and parses the timestamp with ``int()`` first: the point here is that nothing unsigned is decoded.
    A timestamp older or newer than five minutes is refused (replay protection, as Slack specifies).
    """
    ts = headers.get("x-slack-request-timestamp") or ""
    sig = headers.get("x-slack-signature") or ""
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):
        return False
    if abs((time.time() if now is None else now) - int(ts)) > _MAX_AGE_S:
        return False
    expected = "v0=" + hmac.new(secret, b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), sig.encode("latin-1", "replace"))


def _bolt_request(body: bytes, query: str, headers: dict[str, str]) -> BoltRequest | str:
    """A BoltRequest for a signed body, or why the body is unusable (for a 400)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    try:
        req = BoltRequest(body=text, query=query, headers=headers)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:  # json.JSONDecodeError is a ValueError
        return f"malformed body ({type(e).__name__})"
    if not isinstance(req.body, dict):
        return "body is not a JSON object"
    return req


def slack_router(app: App, config: SlackConfig | None = None, path: str = "/slack/events") -> APIRouter:
    """The route that caps, verifies and then dispatches Slack requests (events, commands, interactivity)
    at ``POST path``: included by the bot's own server (`make_http_api`) and by `chipassist serve --slack`.

    Args:
        app: the Bolt app (from `assistant.slack.build_app`).
        config: Slack settings: the signing secret and ``max_body_bytes`` (default: the ones ``app`` was built with).
    Raises:
        ValueError: no signing secret (HTTP mode cannot run unsigned).
    """
    config = config or app.bot.config  # type: ignore[attr-defined]
    if config.signing_secret is None:
        raise ValueError("slack.signing_secret (or $SLACK_SIGNING_SECRET) is required in HTTP mode")
    secret = config.signing_secret.get_secret_value().encode()
    limit = config.max_body_bytes
    router = APIRouter()

    @router.post(path, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        try:
            body = await _read_capped(request, limit)
        except _TooLarge:
            return PlainTextResponse(f"request body over {limit} bytes", status_code=413)
        if not _signed(secret, body, request.headers):
            return PlainTextResponse("invalid request signature", status_code=401)
        bolt_req = _bolt_request(body, str(request.query_params), dict(request.headers))
        if isinstance(bolt_req, str):
            log.warning("signed Slack request refused: %s", bolt_req)
            return PlainTextResponse(bolt_req, status_code=400)
        # dispatch verifies the signature again and acks; listeners run on Bolt's own thread pool
        resp = await run_in_threadpool(app.dispatch, bolt_req)
        return Response(status_code=resp.status, content=resp.body, headers=resp.first_headers_without_set_cookie())

    return router


def make_http_api(app: App, config: SlackConfig | None = None, path: str = "/slack/events") -> FastAPI:
    """The bot's own FastAPI app: `slack_router` at ``POST path`` and ``GET /healthz``.

    Raises:
        ValueError: no signing secret (HTTP mode cannot run unsigned).
    """
    api = FastAPI(title="ChipAssist Slack bot")
    api.include_router(slack_router(app, config, path))

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    return api


def serve_http(app: App, host: str = "127.0.0.1", port: int = 3000) -> None:
    """Run the HTTP endpoint with uvicorn (loopback by default: put a TLS proxy in front for Slack)."""
    import uvicorn

    uvicorn.run(make_http_api(app), host=host, port=port, log_level="info")


def serve_socket(app: App, app_token: str) -> None:
    """Connect to Slack in Socket Mode (no inbound port at all)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(app, app_token).start()
