"""`chipassist mcp`, `chipassist serve` and `chipassist api token add|list|remove`.

    chipassist api token add alice --groups silicon-team   # prints the token once; only its hash is kept
    chipassist mcp [--user alice]                          # stdio, as alice's groups (default: public only)
    chipassist mcp --transport http --port 8765            # streamable HTTP at /mcp, bearer tokens
    chipassist serve --port 8080 [--mcp]                   # REST + OpenAI facade (+ /mcp), docs at /docs

The tokens file is ``<data_dir>/api_tokens.json`` unless $CHIPASSIST_API_TOKENS or --tokens says otherwise.
"""
from __future__ import annotations

from pathlib import Path

import typer

from assistant.cli.common import ConfigOpt, IndexOpt, console, err_console, fail, parse_groups, print_json, settings_from

TokensOpt = typer.Option(None, "--tokens", help="API tokens file (default $CHIPASSIST_API_TOKENS or "
                                                "<data_dir>/api_tokens.json).")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
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


def _bot(index: Path | None, config: Path | None):
    from assistant.service import Assistant

    settings = settings_from(index, config)
    if not settings.index_dir.is_dir():
        fail(f"no index at {settings.index_dir}: build one with `chipassist index PATH --index DIR`", code=1)
    return Assistant(settings)


def _warn_exposed(host: str) -> None:
    if host not in LOOPBACK:
        err_console.print(f"[yellow]warning:[/] listening on {host}: put a TLS proxy in front (tokens travel in "
                          "the Authorization header)")


def mcp(transport: str = typer.Option("stdio", "--transport", help="stdio | http (streamable HTTP at /mcp)."),
        host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8765, "--port"),
        user: str = typer.Option(None, "--user", help="stdio: run as this user's groups (ui.users or API tokens); "
                                                       "default public documents only."),
        index: Path = IndexOpt, config: Path = ConfigOpt, tokens: Path = TokensOpt) -> None:
    """The MCP server: every job (search, ask, tcl_check, tcl_generate, bug_summary, explain_log...) as a tool."""
    from assistant.api.mcp_server import build_mcp, local_principal

    if transport not in ("stdio", "http"):
        fail(f"--transport must be stdio or http, got {transport!r}")
    bot = _bot(index, config)
    store = _store(bot.settings, tokens)
    if transport == "stdio":
        try:
            local = local_principal(bot.settings, store, user)
        except ValueError as e:
            fail(str(e))
        build_mcp(bot, local=local).run("stdio")
        return
    import uvicorn

    _warn_exposed(host)
    server = build_mcp(bot, tokens=store, host=host, port=port)
    uvicorn.run(server.streamable_http_app(), host=host, port=port, log_level="warning")


def serve(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8080, "--port"),
          rate: float = typer.Option(120, "--rate-limit", min=1, help="Requests a minute per token (average)."),
          burst: int = typer.Option(None, "--burst", min=1, help="Requests a token may send at once (default: "
                                                                  "10 s worth)."),
          with_mcp: bool = typer.Option(False, "--mcp", help="Also serve MCP (streamable HTTP) at /mcp."),
          index: Path = IndexOpt, config: Path = ConfigOpt, tokens: Path = TokensOpt) -> None:
    """The REST API (jobs, streaming answers, feedback, /healthz, /readyz; docs at /docs) and the
    OpenAI-compatible /v1/chat/completions."""
    import uvicorn

    from assistant.api.mcp_server import build_mcp
    from assistant.api.rest import create_app

    bot = _bot(index, config)
    store = _store(bot.settings, tokens)
    _warn_exposed(host)
    server = build_mcp(bot, tokens=store, host=host, port=port) if with_mcp else None
    app = create_app(bot, store, rate_per_minute=rate, burst=burst, mcp=server)
    err_console.print(f"ChipAssist API on http://{host}:{port} (docs: /docs, tokens: {store.path})")
    uvicorn.run(app, host=host, port=port, log_level="warning")
