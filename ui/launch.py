"""Start the Chainlit server for `chipassist ui`: prepare its app root, auth secret and environment, then run.

    python ui/launch.py --host 127.0.0.1 --port 8000 --headless    # what `chipassist ui` runs (by file path)
    from ui.launch import serve
    serve(settings, host="127.0.0.1", port=8000, headless=True)
    mount(fastapi_app, settings, path="/chat")       # `chipassist serve --ui`: the page inside the API process

`chipassist ui` finds this file with ``importlib.util.find_spec("ui")`` and runs it in its own process, so the
CLI (in `assistant`) never imports the chat page: the layers run one way, corpora -> ... -> assistant -> ui.

Chainlit reads its app root from $CHAINLIT_APP_ROOT when it is first imported (default: the working
directory), and writes translations, `.files` uploads and chainlit.md there. We point it at
`<data_dir>/ui` and copy the shipped ui/chainlit.toml in, so `chipassist ui` behaves the same from any
working directory and nothing is written into the source tree. The app reads its settings back from
$CHIPASSIST_CONFIG / $CHIPASSIST_INDEX / $CHIPASSIST_DATA_DIR; mounted in the API process, it takes that
process's shared Assistant (`Assistant.shared`) and its settings instead.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from assistant.config import Settings

UI_DIR = Path(__file__).resolve().parent
SECRET_FILE = "chainlit_auth_secret"
_MOUNTED: str | None = None  # the path the chat page is mounted at in this process (see `mount`)


def auth_secret(data_dir: Path) -> str:
    """$CHAINLIT_AUTH_SECRET, else a random secret persisted (mode 0600) in ``data_dir`` so logins survive restarts."""
    if os.environ.get("CHAINLIT_AUTH_SECRET"):
        return os.environ["CHAINLIT_AUTH_SECRET"]
    path = data_dir / SECRET_FILE
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        os.replace(tmp, path)  # atomic: two servers starting at once never read half a secret
    return path.read_text().strip()


def prepare_app_root(data_dir: Path) -> Path:
    """Create ``<data_dir>/ui/`` with ``.chainlit/config.toml`` (from ui/chainlit.toml) and the page's readme
    ``chainlit.md`` (from ui/chainlit.md), refreshed when the shipped files change; return the app root."""
    root = data_dir / "ui"
    for shipped, target in (("chainlit.toml", root / ".chainlit" / "config.toml"), ("chainlit.md", root / "chainlit.md")):
        target.parent.mkdir(parents=True, exist_ok=True)
        text = (UI_DIR / shipped).read_text(encoding="utf-8")
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return root


def _chainlit_env(settings: Settings) -> None:
    """Point Chainlit at ``<data_dir>/ui`` and its auth secret; must run before Chainlit is first imported.

    Raises RuntimeError when Chainlit was already imported with another app root (its config is read once)."""
    data_dir = settings.data_dir.resolve()
    root = str(prepare_app_root(data_dir))
    loaded = sys.modules.get("chainlit.config")
    if loaded is not None and loaded.APP_ROOT != root:
        raise RuntimeError(f"Chainlit was already loaded in this process with app root {loaded.APP_ROOT}, "
                           f"not {root}: one chat page per process")
    os.environ["CHAINLIT_APP_ROOT"] = root
    os.environ["CHAINLIT_AUTH_SECRET"] = auth_secret(data_dir)


def mount(app, settings: Settings, *, path: str = "/chat") -> None:
    """Serve the chat page inside ``app`` (a FastAPI app) under ``path``, with its socket.io endpoint at
    ``{path}/ws/socket.io``. The page then answers with the process's shared Assistant
    (`assistant.service.Assistant.shared`, which the caller has created over ``settings``).

    Chainlit's server is one per process, so this runs once per process (RuntimeError on a second call)."""
    global _MOUNTED
    if _MOUNTED is not None:
        raise RuntimeError(f"the chat page is already mounted in this process (at {_MOUNTED})")
    _chainlit_env(settings)
    from chainlit.config import config
    from chainlit.utils import mount_chainlit  # imported only now: Chainlit reads its app root on import

    config.run.headless = True  # never open a browser from a server
    mount_chainlit(app=app, target=str(UI_DIR / "app.py"), path=path)
    _MOUNTED = path


def serve(settings: Settings, *, host: str, port: int, headless: bool, config_file: Path | None = None) -> None:
    """Run the chat app until interrupted (blocks)."""
    data_dir = settings.data_dir.resolve()
    _chainlit_env(settings)
    os.environ["CHIPASSIST_INDEX"] = str(settings.index_dir.resolve())
    os.environ["CHIPASSIST_DATA_DIR"] = str(data_dir)
    if config_file is not None:
        os.environ["CHIPASSIST_CONFIG"] = str(Path(config_file).resolve())
    os.environ["CHAINLIT_HOST"], os.environ["CHAINLIT_PORT"] = host, str(port)

    from chainlit.cli import run_chainlit  # imported only now: Chainlit reads its app root on import
    from chainlit.config import config

    config.run.headless = headless
    run_chainlit(str(UI_DIR / "app.py"))


def main(argv: list[str] | None = None) -> None:
    """Command line of this file: settings from $CHIPASSIST_CONFIG / $CHIPASSIST_INDEX / $CHIPASSIST_DATA_DIR
    (which `chipassist ui` sets from its options), listening on --host/--port."""
    import argparse

    from assistant.config import ConfigError, load_settings

    parser = argparse.ArgumentParser(description="Serve the ChipAssist chat page (Chainlit).")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--headless", action="store_true", help="Do not open a browser.")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(os.environ.get("CHIPASSIST_CONFIG") or None)
    except ConfigError as e:
        raise SystemExit(f"error: {e}") from None
    config_file = Path(os.environ["CHIPASSIST_CONFIG"]) if os.environ.get("CHIPASSIST_CONFIG") else None
    serve(settings, host=args.host or settings.ui.host, port=args.port or settings.ui.port, headless=args.headless,
          config_file=config_file)


if __name__ == "__main__":
    main()
