"""Fixtures for the browser tests: a real `chipassist ui` server (subprocess) and headless Debian Chromium.

The server runs over the session's sample index with a private data dir and settings YAML; `UIServer`
can be stopped and started again on the same data dir to check that chats survive a restart.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
USERS = {"engineer": ("chipassist", ["silicon-team"]), "guest": ("guest", [])}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UIServer:
    """`chipassist ui --headless` in a subprocess, with its log in ``data_dir/server.log``."""

    def __init__(self, index: Path, data_dir: Path, config: Path) -> None:
        self.index, self.data_dir, self.config = index, data_dir, config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "UIServer":
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        env.pop("CHAINLIT_AUTH_SECRET", None)  # the server must make and keep its own
        log = (self.data_dir / "server.log").open("a")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "chipassist"), "ui", "--index", str(self.index), "--config", str(self.config),
             "--port", str(self.port), "--headless"],
            cwd=self.data_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chipassist ui exited: {(self.data_dir / 'server.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return self
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"chipassist ui did not answer on {self.url} in {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def write_settings(path: Path, data_dir: Path, extra: str = "") -> Path:
    users = "".join(f"    {name}: {{password: {pw}, groups: {groups}}}\n" for name, (pw, groups) in USERS.items())
    path.write_text(f"data_dir: {data_dir}\nui:\n  auth: password\n  users:\n{users}{extra}", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ui_server(sample_index_master, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("ui_data")
    server = UIServer(sample_index_master, data_dir, write_settings(data_dir / "settings.yaml", data_dir)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
