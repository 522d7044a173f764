"""`chipassist serve --ui --slack --mcp`: every client in one process, over ONE Assistant.

    chipassist serve --ui --slack --mcp      # REST + OpenAI facade, /chat (Chainlit), /slack/events, /mcp

The REST API, the OpenAI facade, the MCP server, the Slack bot and the Chainlit chat page all take the
process's shared Assistant (`assistant.service.Assistant.shared`), so the process opens the index once and
loads each model once however many clients it serves. The chat page is a layer above this package: it is
found with ``importlib.util.find_spec("ui")`` (as `chipassist ui` finds it) and mounted by its own
``ui.launch.mount``, never imported statically from here.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from fastapi import FastAPI

from assistant.api.auth import TokenStore
from assistant.config import APIConfig, Settings
from assistant.service import Assistant


class MissingClient(RuntimeError):
    """A client asked for (``--ui``) is not installed with this ChipAssist."""


def chat_app_file() -> Path:
    """ui/app.py of the installed `ui` package; MissingClient when the package or Chainlit is missing."""
    spec = importlib.util.find_spec("ui")
    app = Path(spec.submodule_search_locations[0]) / "app.py" if spec and spec.submodule_search_locations else None
    if app is None or not app.is_file() or importlib.util.find_spec("chainlit") is None:
        raise MissingClient("the chat page (package `ui` with Chainlit) is not installed with this ChipAssist; "
                            "install it with pip install -e '.[ui]' from a source checkout")
    return app


def mount_chat(settings: Settings):
    """A ``chat(app, path)`` for `assistant.api.rest.create_app` that mounts ui/app.py's Chainlit page at
    ``path`` (its settings: ``settings``; its Assistant: the process's shared one)."""
    chat_app_file()  # fail before the server starts, naming what to install

    def chat(app: FastAPI, path: str) -> None:
        importlib.import_module("ui.launch").mount(app, settings, path=path)

    return chat


def build_app(settings: Settings, tokens: TokenStore, opts: APIConfig, *, warm: bool = True) -> FastAPI:
    """The app `chipassist serve` runs: REST and the OpenAI facade, plus MCP (``opts.mcp``), the Slack bot's
    HTTP endpoint (``opts.slack``) and the chat page (``opts.ui``), all over ``Assistant.shared(settings)``.

    Raises MissingClient (the chat page is not installed) or ValueError (Slack's tokens are missing, Socket
    Mode asked for, or the process already shares an Assistant with other settings)."""
    from assistant.api.mcp_server import build_mcp
    from assistant.api.rest import create_app

    bot = Assistant.shared(settings)
    slack = chat = None
    if opts.slack:
        if settings.slack.mode != "http":
            raise ValueError("serve --slack answers Slack over HTTP (POST /slack/events); slack.mode is "
                             f"{settings.slack.mode!r}: run `chipassist slack --socket` for Socket Mode")
        from assistant.slack import build_app as build_slack

        slack = build_slack(bot)
    if opts.ui:
        chat = mount_chat(settings)
    mcp = build_mcp(bot, tokens=tokens, host=opts.host, port=opts.port) if opts.mcp else None
    return create_app(bot, tokens, rate_per_minute=opts.rate_limit, burst=opts.burst, mcp=mcp, slack=slack,
                      chat=chat, warm=warm)
