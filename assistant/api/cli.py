"""`chipassist mcp`, `chipassist serve` and `chipassist api token add|list|remove`.

    chipassist api token add alice --groups silicon-team   # prints the token once; only its hash is kept
    chipassist mcp [--user alice]                          # stdio, as alice's groups (default: public only)
    chipassist mcp --transport http --port 8765            # streamable HTTP at /mcp, bearer tokens
    chipassist serve --port 8080 [--mcp]                   # REST + OpenAI facade (+ /mcp), docs at /docs
    chipassist serve --ui --slack --mcp                    # + the chat page (/chat) and the Slack bot
                                                           #   (/slack/events), one index and model for all

Defaults come from the settings' ``api:`` section (`assistant.config.APIConfig`: tokens_file, host, port,
rate_limit, burst, mcp_user, mcp, ui, slack); each option given on the command line overrides its value. The tokens file is
--tokens, else $CHIPASSIST_API_TOKENS, else ``api.tokens_file``, else ``<data_dir>/api_tokens.json``.
"""
from __future__ import annotations

from pathlib import Path

import typer

from assistant.cli.common import ConfigOpt, IndexOpt, console, err_console, fail, parse_groups, print_json, settings_from
from assistant.config import APIConfig

TokensOpt = typer.Option(None, "--tokens", help="API tokens file (default $CHIPASSIST_API_TOKENS, api.tokens_file "
                                                "or <data_dir>/api_tokens.json).")
HostOpt = typer.Option(None, "--host", help="Address to listen on (default api.host, 127.0.0.1).")
PortOpt = typer.Option(None, "--port", help="Port to listen on (default api.port, 8080).")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    """Add `mcp`, `serve` and `api token add|list|remove` to ``app``."""
    app.command("mcp")(mcp)
    app.command("serve")(serve)
    api = typer.Typer(help="API access: tokens for `chipassist serve` and `chipassist mcp --transport http`.",
                      no_args_is_help=True)
    token = typer.Typer(help="Create, list and remove API tokens (stored hashed).", no_args_is_help=True)
    token.command("add")(token_add)
    token.command("list")(token_list)
    token.command("remove")(token_remove)
    api.add_typer(token, name="token")
    app.add_typer(api, name="api")


def _store(settings, tokens: Path | None):
    from assistant.api.auth import TokenStore, tokens_path

    return TokenStore(tokens or tokens_path(settings))


def token_add(user: str = typer.Argument(..., help="Who the token is for (shown in logs and feedback)."),
              groups: str = typer.Option("", "--groups", help="Comma-separated ACL groups (none: public only)."),
              config: Path = ConfigOpt, tokens: Path = TokensOpt) -> None:
    """Create a token for USER with --groups; prints it once (only its SHA-256 is stored)."""
    store = _store(settings_from(None, config), tokens)
    try:
        token = store.add(user, parse_groups(groups) or set())
    except ValueError as e:
        fail(str(e))
    err_console.print(f"token for {user} (groups: {groups or 'public only'}) added to {store.path}; "
                      "it is shown only now:")
    console.out(token)


def token_list(config: Path = ConfigOpt, tokens: Path = TokensOpt) -> None:
    """List tokens (id, user, groups, created); never the tokens themselves."""
    print_json(_store(settings_from(None, config), tokens).entries())


def token_remove(key: str = typer.Argument(..., help="A user name (all their tokens) or a token id."),
                 config: Path = ConfigOpt, tokens: Path = TokensOpt) -> None:
    """Remove a user's tokens, or one token by id."""
    n = _store(settings_from(None, config), tokens).remove(key)
    if not n:
        fail(f"no token for user or id {key!r}", code=1)
    err_console.print(f"removed {n} token(s)")


def api_options(settings, **options) -> APIConfig:
    """The settings' ``api:`` section with the options given on the command line (not None) over it;
    a bad value exits naming the option."""
    from pydantic import ValidationError

    from corpora.config_io import format_validation_error

    given = {name: value for name, value in options.items() if value is not None}
    try:
        return APIConfig.model_validate({**settings.api.model_dump(), **given})
    except ValidationError as e:
        fail(format_validation_error(e))


def _settings(index: Path | None, config: Path | None):
    settings = settings_from(index, config)
    if not settings.index_dir.is_dir():
        fail(f"no index at {settings.index_dir}: build one with `chipassist index PATH --index DIR`", code=1)
    return settings


def _bot(index: Path | None, config: Path | None):
    from assistant.service import Assistant

    return Assistant.shared(_settings(index, config))


def _warn_exposed(host: str) -> None:
    if host not in LOOPBACK:
        err_console.print(f"[yellow]warning:[/] listening on {host}: put a TLS proxy in front (tokens travel in "
                          "the Authorization header)")


def mcp(transport: str = typer.Option("stdio", "--transport", help="stdio | http (streamable HTTP at /mcp)."),
        host: str = HostOpt, port: int = PortOpt,
        user: str = typer.Option(None, "--user", help="stdio: run as this user's groups (ui.users or API tokens); "
                                                       "default api.mcp_user, else public documents only."),
        index: Path = IndexOpt, config: Path = ConfigOpt, tokens: Path = TokensOpt) -> None:
    """The MCP server: every job (search, ask, tcl_check, tcl_generate, bug_summary, explain_log...) as a tool."""
    from assistant.api.mcp_server import build_mcp, local_principal

    if transport not in ("stdio", "http"):
        fail(f"--transport must be stdio or http, got {transport!r}")
    bot = _bot(index, config)
    opts = api_options(bot.settings, host=host, port=port, mcp_user=user)
    store = _store(bot.settings, tokens)
    if transport == "stdio":
        try:
            local = local_principal(bot.settings, store, opts.mcp_user)
        except ValueError as e:
            fail(str(e))
        build_mcp(bot, local=local).run("stdio")
        return
    import uvicorn

    _warn_exposed(opts.host)
    server = build_mcp(bot, tokens=store, host=opts.host, port=opts.port)
    uvicorn.run(server.streamable_http_app(), host=opts.host, port=opts.port, log_level="warning")


def serve(host: str = HostOpt, port: int = PortOpt,
          rate: float = typer.Option(None, "--rate-limit", min=1, help="Requests a minute per token (average; "
                                                                        "default api.rate_limit, 120)."),
          burst: int = typer.Option(None, "--burst", min=1, help="Requests a token may send at once (default "
                                                                  "api.burst, else 10 s worth)."),
          with_mcp: bool = typer.Option(None, "--mcp/--no-mcp", help="Also serve MCP (streamable HTTP) at /mcp "
                                                                     "(default api.mcp)."),
          with_ui: bool = typer.Option(None, "--ui/--no-ui", help="Also serve the Chainlit chat page at /chat "
                                                                  "(default api.ui; login and users: ui:)."),
          with_slack: bool = typer.Option(None, "--slack/--no-slack", help="Also serve the Slack bot at POST "
                                                                           "/slack/events (default api.slack)."),
          index: Path = IndexOpt, config: Path = ConfigOpt, tokens: Path = TokensOpt) -> None:
    """The REST API (jobs, streaming answers, feedback, /healthz, /readyz; docs at /docs) and the
    OpenAI-compatible /v1/chat/completions; with --mcp, --ui, --slack also MCP, the chat page and the Slack
    bot, all in this process over one index and one model."""
    import uvicorn

    from assistant.api.together import MissingClient, build_app

    settings = _settings(index, config)
    opts = api_options(settings, host=host, port=port, rate_limit=rate, burst=burst, mcp=with_mcp, ui=with_ui,
                       slack=with_slack)
    store = _store(settings, tokens)
    _warn_exposed(opts.host)
    try:
        app = build_app(settings, store, opts)
    except (MissingClient, ValueError) as e:
        fail(str(e), code=1)
    served = ", ".join(name for name, on in (("/mcp", opts.mcp), ("/chat", opts.ui), ("/slack/events", opts.slack))
                       if on)
    err_console.print(f"ChipAssist API on http://{opts.host}:{opts.port} (docs: /docs{', ' if served else ''}"
                      f"{served}; tokens: {store.path})")
    uvicorn.run(app, host=opts.host, port=opts.port, log_level="warning")
