"""A local stand-in for Slack's cloud: records Web API calls and response_url posts, and can serve
Socket Mode over a real WebSocket. Slack itself cannot be reached here; this speaks its protocol.

    with SlackAPIRecorder() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class SlackAPIRecorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []  # {"method": "chat.postMessage", "args": {...}, "response": {...}}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self.socket_url: str | None = None  # returned by apps.connections.open when set
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                method = self.path.split("/api/", 1)[1] if "/api/" in self.path else "response_url:" + self.path
                body = recorder._reply(method, args)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url = self.url + "/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _reply(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        body = self._response(method, args)
        with self._lock:
            self.calls.append({"method": method, "args": args, "response": body})
        return body

    def _response(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "user": "chipassist"}
        if method == "chat.postMessage":
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": {"text": args.get("text"), "ts": ts}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        return {"ok": True}

    def wait_for(self, method: str, count: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Block until `count` calls of `method` (prefix match) were recorded; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                got = [c for c in self.calls if c["method"].startswith(method)]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise TimeoutError(f"expected {count} call(s) of {method}, got {len(got)}: {[c['method'] for c in self.calls]}")

    def __enter__(self) -> "SlackAPIRecorder":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class SocketModeStandIn:
    """A WebSocket server speaking Slack's Socket Mode: says hello, sends envelopes, collects acks."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: list[dict[str, Any]] = []
        self._to_send: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def send(self, envelope: dict[str, Any]) -> None:
        with self._lock:
            self._to_send.append(envelope)

    def _handle(self, ws: Any) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "stand-in"}}))
        self.connected.set()
        while True:
            with self._lock:
                pending, self._to_send = self._to_send, []
            for env in pending:
                ws.send(json.dumps(env))
            try:
                msg = ws.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return
            data = json.loads(msg) if isinstance(msg, str) else {}
            if "envelope_id" in data:
                with self._lock:
                    self.acks.append(data)

    def __enter__(self) -> "SocketModeStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
