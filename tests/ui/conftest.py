"""Fixtures for the chat page tests: a real `chipassist ui` server (subprocess) and headless Debian Chromium.

The server runs over the session's sample index with a private data dir and settings YAML (password users
`engineer` in group silicon-team, `guest` in none); `ui.client.UIServer` can be stopped and started again
on the same data dir to check that chats survive a restart. Browser tests skip, saying why, when
Playwright or /usr/bin/chromium is missing; the page is never allowed to fetch anything off this machine.
Screenshots go to a tmp dir; their paths are printed at the end of the run.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import os
from pathlib import Path

import pytest

from ui.client import ChatUser, UIServer

CHROMIUM = Path(os.environ.get("CHIPASSIST_CHROMIUM", "/usr/bin/chromium"))  # Debian's; override for others
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
USERS = {"engineer": ("chipassist", ["silicon-team"]), "guest": ("guest", [])}
SCREENSHOTS: list[Path] = []


def write_settings(path: Path, data_dir: Path, *, auth: str = "password", llm: str = "{backend: none}") -> Path:
    users = "".join(f"    {name}: {{password: {pw}, groups: {groups}}}\n" for name, (pw, groups) in USERS.items())
    path.write_text(f"data_dir: {data_dir}\nllm: {llm}\nui:\n  auth: {auth}\n  users:\n{users}", encoding="utf-8")
    return path


def start_server(index: Path, data_dir: Path, *, auth: str = "password", llm: str = "{backend: none}") -> UIServer:
    settings = write_settings(data_dir / "settings.yaml", data_dir, auth=auth, llm=llm)
    return UIServer(index, data_dir, settings).start()


@pytest.fixture(scope="session")
def start_ui():
    """``start_ui(index, data_dir, auth=...)``: a started server (stop it yourself)."""
    if importlib.util.find_spec("chainlit") is None:  # not imported here: Chainlit writes .chainlit/ into the cwd
        pytest.skip("the `ui` extra is not installed (pip install -e '.[ui]')")
    return start_server


@pytest.fixture(scope="module")
def ui_server(sample_index_master, tmp_path_factory, start_ui):
    server = start_ui(sample_index_master, tmp_path_factory.mktemp("ui_data"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium, or `make system-deps`)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def new_page(browser):
    """Pages in fresh contexts (own cookies) whose requests off 127.0.0.1 are refused (Chainlit links web fonts)."""
    contexts = []

    def make(**context_kw):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context_kw)
        local = ("http://127.0.0.1", "ws://127.0.0.1")
        ctx.route("**/*", lambda route: route.continue_() if route.request.url.startswith(local) else route.abort())
        page = ctx.new_page()
        page.dialogs = []  # any alert/confirm the page opens (markup in a message must never run)
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        contexts.append(ctx)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ui_screenshots")


@pytest.fixture()
def shot(screenshot_dir):
    """``shot(page, name)``: save a full-page PNG, check it is a real non-empty PNG, return its path."""

    def take(page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, f"{path}: not a usable PNG ({len(data)} bytes)"
        SCREENSHOTS.append(path)
        print(f"screenshot: {path}")
        return path

    return take


@pytest.fixture()
def chat():
    """Run one scripted chat (``ui.client.ChatUser``) to completion: ``chat(url, user, password, fn)``."""

    def run(url, user, password, fn, **kw):
        async def go():
            async with ChatUser(url, user, password, **kw) as u:
                return await fn(u)

        # its own thread: Playwright's sync API keeps an event loop running in this one
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()

    return run


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS:
        terminalreporter.write_sep("-", "chat page screenshots")
        for path in SCREENSHOTS:
            terminalreporter.write_line(str(path))


@pytest.fixture(scope="session")
def sample_bugs(sample_dir) -> Path:
    return sample_dir / "bugs" / "bugs.jsonl"

