"""`chipassist serve --ui --slack --mcp`: REST, MCP, the Chainlit page and the Slack bot in ONE process, over
one Assistant and one opened index. A real uvicorn server on 127.0.0.1 in a thread of this process (so each
component's Assistant can be compared by identity), Slack's Web API replaced by a local recorder."""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.api.conftest import ThreadServer, chipassist, cli_env
from tests.support.slack_api import SlackAPIRecorder

SECRET = "together-signing-secret"


def _signed_post(url: str, body: str) -> httpx.Response:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return httpx.post(url, content=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})


@pytest.fixture(scope="module")
def together(api_env, tmp_path_factory):
    """The app `chipassist serve --ui --slack --mcp` builds, served; counts every Index.open meanwhile."""
    if importlib.util.find_spec("chainlit") is None:  # not imported here: Chainlit reads its app root on import
        pytest.skip("the `ui` extra is not installed (pip install -e '.[ui]')")
    from assistant import service
    from assistant.api.together import build_app
    from assistant.config import APIConfig, load_settings
    from retriever.index import Index

    data = tmp_path_factory.mktemp("together")
    opened = []
    real_open = Index.open.__func__

    def counting_open(cls, index_dir):
        opened.append(index_dir)
        return real_open(cls, index_dir)

    saved_env = dict(os.environ)
    service._PROCESS.clear()
    with SlackAPIRecorder() as recorder, pytest.MonkeyPatch.context() as mp:
        mp.setattr(Index, "open", classmethod(counting_open))
        settings = load_settings(None, index_dir=api_env["index"], data_dir=data, llm={"backend": "none"},
                                 slack={"bot_token": "xoxb-test", "signing_secret": SECRET,
                                        "api_base_url": recorder.api_url},
                                 ui={"auth": "password", "users": {"engineer": {"password": "pw-Engineer-1"}}})
        opts = APIConfig(mcp=True, ui=True, slack=True, rate_limit=100_000, burst=10_000)
        app = build_app(settings, api_env["store"], opts)
        try:
            with ThreadServer(app) as server:
                yield {"url": server.url, "app": app, "recorder": recorder, "opened": opened, "settings": settings}
        finally:
            service._PROCESS.clear()
            os.environ.clear()
            os.environ.update(saved_env)  # Chainlit's root path and app root must not reach other tests


def test_every_client_answers_from_one_process(together, api_env):
    url = together["url"]
    # REST
    r = httpx.post(f"{url}/api/search", json={"query": "UART baud rate divisor"},
                   headers={"Authorization": f"Bearer {api_env['bob']}"}, timeout=60)
    assert r.status_code == 200 and r.json()["hits"], r.text
    # MCP is mounted (and still wants a token)
    assert httpx.post(f"{url}/mcp", json={}, timeout=10).status_code == 401
    # the chat page: its HTML (under /chat) and its socket.io endpoint (an engine.io handshake)
    page = httpx.get(f"{url}/chat", follow_redirects=True, timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower() and '"/chat' in page.text
    hello = httpx.get(f"{url}/chat/ws/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=10)
    assert hello.status_code == 200 and hello.text.startswith("0") and '"sid"' in hello.text, hello.text[:200]
    assert httpx.get(f"{url}/chat/project/settings", timeout=10).status_code in (200, 401)  # Chainlit's API
    # the Slack bot: a signed mention is acked and answered in its thread, with sources
    event = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "EvT1",
             "event_time": int(time.time()),
             "event": {"type": "app_mention", "user": "UENG", "text": "<@UBOT> how is the UART baud rate set?",
                       "ts": "200.1", "channel": "CENG"}}
    assert _signed_post(f"{url}/slack/events", json.dumps(event)).status_code == 200
    post = together["recorder"].wait_for("chat.postMessage", timeout=60)[-1]
    assert post["args"]["thread_ts"] == "200.1" and "*Sources*" in post["args"]["text"]
    assert _signed_post(f"{url}/slack/events", "{}").status_code in (200, 404)  # signed junk is Bolt's to refuse
    bad = httpx.post(f"{url}/slack/events", content=json.dumps(event), timeout=10,
                     headers={"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"})
    assert bad.status_code == 401


def test_one_assistant_and_one_index_serve_them_all(together):
    from assistant.service import Assistant
    from assistant.slack.server import slack_router  # noqa: F401  (the route the Slack bot is served by)

    app = together["app"]
    bot = Assistant.shared()
    assert app.state.api.bot is bot
    assert app.state.slack.bot.assistant is bot
    chat_page = next(m for name, m in sys.modules.items() if name.endswith(os.path.join("ui", "app.py")))
    assert chat_page.BOT is bot and chat_page.SETTINGS is together["settings"]
    # REST and Slack both searched above; the chat page's reranker probe opens the index through its BOT
    assert chat_page._has_reranker() in (True, False)
    assert together["opened"] == [together["settings"].index_dir], together["opened"]
    with pytest.raises(ValueError, match="other settings"):
        Assistant.shared(together["settings"].model_copy(update={"data_dir": together["settings"].data_dir / "x"}))


def test_serve_refuses_slack_without_its_tokens(api_env):
    """The command names what is missing instead of starting half a server."""
    env = {k: v for k, v in cli_env(api_env).items() if not k.startswith("SLACK_")}
    r = subprocess.run([chipassist(), "serve", "--slack", "--port", "1"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "slack.bot_token" in r.stderr + r.stdout, r.stderr


def test_a_chat_on_the_mounted_page_answers_with_sources(together):
    """A logged-in user chats over the page's Socket.IO session under /chat (what the browser does)."""
    import asyncio

    from ui.client import ChatUser

    async def go():
        async with ChatUser(together["url"] + "/chat", "engineer", "pw-Engineer-1") as user:
            return await user.send("How is the UART baud rate set?")

    turn = asyncio.run(go())
    assert turn.ok, turn.error or turn.text
    assert "uart" in turn.text.lower() and turn.elements, turn.text[:500]
    assert together["opened"] == [together["settings"].index_dir]  # the page answered from the shared index
