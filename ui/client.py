"""Drive a running `chipassist ui` server from scripts: start one in a subprocess, and talk to it as a user.

Used by the browser tests (tests/ui) and the concurrency benchmark (bench/concurrency.py); handy for smoke
checks too. It speaks the same HTTP + Socket.IO protocol as the Chainlit page (log in at /login, open the
socket at /ws/socket.io, send `client_message`, collect the replies until `task_end`), and imports no
Chainlit code, so it never creates Chainlit files in the working directory.

    server = UIServer(index, data_dir, settings_yaml).start()
    async with ChatUser(server.url, "engineer", "chipassist") as user:
        turn = await user.send("How is the UART baud rate set?")
        print(turn.text, turn.latency_s)
    server.stop()
"""
from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from assistant.config import server_env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UIServer:
    """`chipassist ui --headless` in a subprocess (cwd and log in ``data_dir``); can be stopped and restarted."""

    def __init__(self, index: Path, data_dir: Path, config: Path, *, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.index, self.data_dir, self.config = Path(index), Path(data_dir), Path(config)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.data_dir / "server.log"
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> "UIServer":
        """Start the server and wait until it answers HTTP; a server that exits or times out raises with
        its log's tail."""
        env = {**server_env(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false"), **self.env}
        for name in ("CHAINLIT_AUTH_SECRET", "CHIPASSIST_INDEX", "CHIPASSIST_DATA_DIR", "CHIPASSIST_CONFIG"):
            env.pop(name, None)  # the server makes and keeps its own secret; settings come from the arguments
        exe = Path(sys.executable).parent / "chipassist"
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [str(exe), "ui", "--index", str(self.index), "--config", str(self.config), "--port", str(self.port),
                 "--headless"], cwd=self.data_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chipassist ui exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self.url + "/project/settings?language=en-US", timeout=2)
                return self
            except urllib.error.HTTPError:  # 401 without a login: the server is up
                return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"chipassist ui did not answer on {self.url} in {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server: terminate, then kill if it has not exited in 20 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 4000) -> str:
        """The last ``chars`` characters of the server's log (for error messages)."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.is_file() else ""

    def __enter__(self) -> "UIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@dataclass
class Turn:
    """One request and everything the server sent back for it."""

    sent: str
    messages: list[dict[str, Any]] = field(default_factory=list)  # assistant steps (final versions)
    elements: list[dict[str, Any]] = field(default_factory=list)  # sources, downloads (name, type, display, ...)
    streamed: int = 0  # messages that were streamed (stream_start; the first piece rides on it)
    tokens: int = 0  # further streamed pieces (stream_token)
    first_s: float | None = None  # time to the first token or message
    latency_s: float = 0.0  # time to task_end
    error: str | None = None

    @property
    def text(self) -> str:
        """The text of every assistant message of the turn, joined."""
        return "\n\n".join(m.get("output", "") for m in self.messages)

    @property
    def ok(self) -> bool:
        """Whether the turn got an answer: no error, at least one message, none an error reply."""
        return self.error is None and bool(self.messages) and not any(
            m.get("isError") or m.get("name") == "Error" or m.get("output", "").startswith("Sorry, that request failed")
            for m in self.messages)


class ChatUser:
    """One logged-in user with one chat (a Socket.IO session), like one browser tab."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None, *,
                 profile: str = "Ask", headers: dict[str, str] | None = None) -> None:
        self.url, self.username, self.password, self.profile = url, username, password, profile
        self.headers = headers or {}
        self.sio = None
        self._steps: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self._elements: dict[str, dict[str, Any]] = {}
        self._tokens = self._streams = 0
        self._first: float | None = None
        self._started = False
        self._done = asyncio.Event()

    async def login(self) -> str:
        """Log in (password form, or the trusted header when no password is given); return the cookie header."""
        import httpx

        async with httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=30) as http:
            if self.password is not None:
                r = await http.post("/login", data={"username": self.username, "password": self.password})
            else:
                r = await http.post("/auth/header")
            if r.status_code != 200:
                raise PermissionError(f"login failed ({r.status_code}): {r.text[:200]}")
            return "; ".join(f"{k}={v}" for k, v in r.cookies.items())

    async def __aenter__(self) -> "ChatUser":
        import socketio

        cookie = await self.login()
        self.sio = socketio.AsyncClient(reconnection=False)
        ready = asyncio.Event()

        def on_step(step: dict[str, Any]) -> None:
            if step.get("type") == "assistant_message":
                if step["id"] not in self._steps:
                    self._order.append(step["id"])
                self._steps[step["id"]] = step
                self._first = self._first or time.perf_counter()

        def on_token(data: dict[str, Any]) -> None:
            self._tokens += 1
            self._first = self._first or time.perf_counter()

        def on_task_start(_: Any = None) -> None:
            self._started = True

        settings_seen = False

        def on_settings(_: Any = None) -> None:
            nonlocal settings_seen
            settings_seen = True

        def on_task_end(_: Any = None) -> None:
            if settings_seen:  # on_chat_start (a task of its own) ends after sending the settings panel
                ready.set()
            if self._started:
                self._done.set()

        def on_element(element: dict[str, Any]) -> None:
            self._elements[element["id"]] = element

        def on_stream(step: dict[str, Any]) -> None:
            self._streams += 1
            on_step(step)

        for event, handler in (("new_message", on_step), ("update_message", on_step), ("stream_start", on_stream),
                               ("stream_token", on_token), ("task_start", on_task_start), ("task_end", on_task_end),
                               ("chat_settings", on_settings), ("element", on_element)):
            self.sio.on(event, handler)
        auth = {"sessionId": str(uuid.uuid4()), "clientType": "webapp", "userEnv": "{}", "threadId": None,
                "chatProfile": quote(self.profile)}
        # the socket lives under the page's path (/chat/ws/socket.io when `chipassist serve --ui` mounts it)
        socketio_path = urlparse(self.url).path.rstrip("/") + "/ws/socket.io"
        await self.sio.connect(self.url, socketio_path=socketio_path, transports=["websocket"],
                               headers={"Cookie": cookie, **self.headers}, auth=auth, wait_timeout=30)
        await self.sio.emit("connection_successful")
        await asyncio.wait_for(ready.wait(), 60)  # the chat is ready once on_chat_start has finished
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.sio is not None:
            await self.sio.disconnect()

    async def update_settings(self, values: dict[str, Any]) -> None:
        """What the settings panel's Confirm sends (e.g. ``{"k": 2, "rerank": False}``); waits for the ack."""
        await self.sio.call("chat_settings_change", values, timeout=30)

    async def send(self, text: str, timeout: float = 120) -> Turn:
        """Send one message and wait for the whole reply (until the server's `task_end`)."""
        self._steps.clear()
        self._order.clear()
        self._elements.clear()
        self._tokens, self._streams, self._first, self._started = 0, 0, None, False
        self._done.clear()
        turn = Turn(sent=text)
        message = {"id": str(uuid.uuid4()), "threadId": "", "type": "user_message", "name": self.username or "user",
                   "output": text, "createdAt": datetime.now(timezone.utc).isoformat()}
        t0 = time.perf_counter()
        try:
            await self.sio.emit("client_message", {"message": message, "fileReferences": []})
            await asyncio.wait_for(self._done.wait(), timeout)
        except asyncio.TimeoutError:
            turn.error = f"no reply within {timeout:.0f} s"
        except Exception as e:  # a dropped connection is an error of the run, not of the client
            turn.error = f"{type(e).__name__}: {e}"
        turn.latency_s = time.perf_counter() - t0
        turn.first_s = (self._first - t0) if self._first else None
        turn.messages = [self._steps[i] for i in self._order]
        turn.tokens, turn.streamed = self._tokens, self._streams
        turn.elements = list(self._elements.values())
        if turn.error is None and not turn.messages:
            turn.error = "the reply had no message"
        return turn
