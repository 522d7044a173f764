"""Fixtures for the interface tests: the sample index, an Assistant (backend none) with the sample bugs
imported, a tokens file with a user in the restricted group and one without, and real servers (uvicorn on
127.0.0.1, a random port, in a thread of this process) for the REST API and for MCP over HTTP."""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

RESTRICTED_GROUP = "silicon-team"
RESTRICTED_PATH = "docs/restricted/dma_errata.md"
RESTRICTED_QUERY = "DMA-E1 soft reset with a read outstanding corrupts the next transfer errata"
BUG_ID = "PICO-101"


class ThreadServer:
    """A real uvicorn server for ``app`` on 127.0.0.1 (a port the OS picks), run in a daemon thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "ThreadServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="session")
def api_env(sample_index_master, tmp_path_factory) -> dict:
    """Settings, Assistant, tokens file and the tokens of alice (silicon-team) and bob (public only)."""
    from assistant.api.auth import TokenStore
    from assistant.config import load_settings
    from assistant.service import Assistant

    data = tmp_path_factory.mktemp("api_data")
    settings = load_settings(None, index_dir=sample_index_master, data_dir=data, llm={"backend": "none"})
    bot = Assistant(settings)
    bot.bugs_import(SAMPLE / "bugs" / "bugs.jsonl")
    store = TokenStore(data / "api_tokens.json")
    return {"settings": settings, "bot": bot, "store": store, "data": data, "index": sample_index_master,
            "alice": store.add("alice", [RESTRICTED_GROUP]), "bob": store.add("bob", [])}


@pytest.fixture(scope="session")
def rest_server(api_env):
    """`chipassist serve`'s app (with MCP mounted at /mcp) on a real server; waits until /readyz says ready."""
    import httpx

    from assistant.api.mcp_server import build_mcp
    from assistant.api.rest import create_app

    mcp = build_mcp(api_env["bot"], tokens=api_env["store"])
    app = create_app(api_env["bot"], api_env["store"], rate_per_minute=100_000, burst=10_000, mcp=mcp)
    with ThreadServer(app) as server:
        deadline = time.monotonic() + 120
        while httpx.get(f"{server.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the API never became ready"
            time.sleep(0.1)
        yield server


@pytest.fixture(scope="session")
def mcp_http_server(api_env):
    """`chipassist mcp --transport http`'s app on a real server."""
    from assistant.api.mcp_server import build_mcp

    with ThreadServer(build_mcp(api_env["bot"], tokens=api_env["store"]).streamable_http_app()) as server:
        yield server


def cli_env(api_env) -> dict[str, str]:
    """The environment for a `chipassist` subprocess: this worktree's code, the test's data dir."""
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": root, "CHIPASSIST_DATA_DIR": str(api_env["data"]),
            "CHIPASSIST_INDEX": str(api_env["index"]), "CHIPASSIST_LLM_BACKEND": "none"}


def chipassist() -> str:
    return str(Path(sys.executable).parent / "chipassist")
