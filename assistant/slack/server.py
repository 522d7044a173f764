"""Serve the Bolt app: HTTP mode (FastAPI + uvicorn, `POST /slack/events`) or Socket Mode.

Bolt's own `App.start()` is a development server; uvicorn is what we run behind a proxy.
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from slack_bolt import App, BoltRequest
from starlette.concurrency import run_in_threadpool


def make_http_api(app: App, path: str = "/slack/events") -> FastAPI:
    """A FastAPI app that verifies and dispatches Slack requests (events, commands, interactivity)."""
    api = FastAPI(title="ChipAssist Slack bot")

    @api.post(path)
    async def slack_events(request: Request) -> Response:
        body = (await request.body()).decode("utf-8")
        bolt_req = BoltRequest(body=body, query=str(request.query_params), headers=dict(request.headers))
        # dispatch verifies the signature and acks; listeners run on Bolt's own thread pool
        resp = await run_in_threadpool(app.dispatch, bolt_req)
        return Response(status_code=resp.status, content=resp.body, headers=resp.first_headers_without_set_cookie())

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api


def serve_http(app: App, host: str = "0.0.0.0", port: int = 3000) -> None:
    import uvicorn

    uvicorn.run(make_http_api(app), host=host, port=port, log_level="info")


def serve_socket(app: App, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(app, app_token).start()
