"""CLI commands that start the clients (`ui`, `slack`) and export their feedback (`feedback export`)."""
from __future__ import annotations

from pathlib import Path

import typer

from assistant.cli.common import ConfigOpt, IndexOpt, console, fail, parse_groups, print_json, settings_from

feedback_app = typer.Typer(help="User feedback collected by the UI and the Slack bot.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the client commands (`slack`, `ui`, `feedback export`) to ``app``."""
    app.command("slack")(slack)
    app.command("ui")(ui)
    app.add_typer(feedback_app, name="feedback")


def slack(
    index: Path = IndexOpt,
    config: Path = ConfigOpt,
    socket: bool = typer.Option(False, "--socket", help="Socket Mode (needs SLACK_APP_TOKEN) instead of HTTP."),
    host: str = typer.Option(None, help="HTTP mode: interface to listen on (default slack.host, 127.0.0.1; "
                                        "serve Slack through a TLS proxy rather than on 0.0.0.0)."),
    port: int = typer.Option(None, help="HTTP mode: port (default slack.port, 3000)."),
) -> None:
    """Run the Slack bot (HTTP mode: POST /slack/events; see README for the Slack app settings)."""
    from assistant.service import Assistant
    from assistant.slack import build_app
    from assistant.slack.server import serve_http, serve_socket

    settings = settings_from(index, config)
    if socket:
        settings.slack.mode = "socket"
        if settings.slack.app_token is None:
            fail("Socket Mode needs slack.app_token or $SLACK_APP_TOKEN (an xapp- token)")
    try:
        app = build_app(Assistant(settings))
    except ValueError as e:
        fail(str(e))
    if socket:
        console.print("[green]Slack bot connecting in Socket Mode…[/]")
        serve_socket(app, settings.slack.app_token.get_secret_value())
    else:
        host, port = host or settings.slack.host, port or settings.slack.port
        console.print(f"[green]Slack bot listening on http://{host}:{port}/slack/events[/]")
        serve_http(app, host=host, port=port)


def ui(
    index: Path = IndexOpt,
    config: Path = ConfigOpt,
    host: str = typer.Option(None, help="Interface to listen on (default ui.host, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default ui.port, 8000)."),
    headless: bool = typer.Option(False, "--headless", help="Do not open a browser."),
) -> None:
    """Serve the Chainlit chat page (one chat profile per job: Ask, Tcl script, Bug summary, ...)."""
    import importlib.util
    import os
    import sys

    from assistant.config import server_env

    settings = settings_from(index, config)
    if not settings.index_dir.is_dir():
        fail(f"no index at {settings.index_dir}; build one first, e.g. "
             f"`chipassist index corpora/sample --index {settings.index_dir}`", code=1)
    # The chat page is a client above the service: it is started by file path, never imported from here.
    spec = importlib.util.find_spec("ui")
    launcher = Path(spec.submodule_search_locations[0]) / "launch.py" if spec and spec.submodule_search_locations \
        else None
    if launcher is None or not launcher.is_file():
        fail("the chat page (package `ui`) is not installed with this ChipAssist; install it with "
             "pip install -e '.[ui]' from a source checkout", code=1)
    host, port = host or settings.ui.host, port or settings.ui.port
    console.print(f"[green]ChipAssist UI on http://{host}:{port} (index {settings.index_dir}, "
                  f"backend {settings.llm.backend}, auth {settings.ui.auth})[/]")
    env = server_env(CHIPASSIST_INDEX=str(settings.index_dir.resolve()),
                     CHIPASSIST_DATA_DIR=str(settings.data_dir.resolve()))
    if config is not None:
        env["CHIPASSIST_CONFIG"] = str(Path(config).resolve())
    args = [sys.executable, str(launcher), "--host", host, "--port", str(port), *(["--headless"] if headless else [])]
    sys.stdout.flush()
    os.execve(sys.executable, args, env)  # the server takes this process over (same pid: stopping it stops it)


@feedback_app.command("export")
def feedback_export(
    out: Path = typer.Option(Path("feedback"), "--out", help="Folder for preferences.jsonl and ratings.jsonl."),
    config: Path = ConfigOpt,
    data_dir: Path = typer.Option(None, "--data-dir", help="Where feedback.sqlite lives (default .chipassist)."),
    json_out: bool = typer.Option(False, "--json"),
    groups: str = typer.Option(None, "--groups", help="Comma-separated ACL groups whose answers may be exported "
                                                      "(default: only answers built from public passages)."),
) -> None:
    """Write the preference dataset (DPO pairs) and all rated answers (KTO rows) as JSONL, each row with its ACL."""
    from assistant.feedback import FeedbackStore

    settings = settings_from(None, config, data_dir=data_dir)
    if not settings.feedback_db.is_file():
        fail(f"no feedback database at {settings.feedback_db} (nothing has been rated yet)", code=1)
    counts = FeedbackStore(settings.feedback_db).export(out, parse_groups(groups))
    if json_out:
        print_json({"out": str(out), **counts})
    else:
        console.print(f"wrote {counts['preferences']} preference pairs to {out / 'preferences.jsonl'} "
                      f"and {counts['ratings']} rated answers to {out / 'ratings.jsonl'}"
                      + (f"; {counts['withheld']} rated answers withheld (outside --groups, or logged without "
                         f"an ACL)" if counts["withheld"] else ""))
