"""API tokens mapped to users and ACL groups, a per-token rate limit, and error text safe to return.

Tokens live in a JSON file ($CHIPASSIST_API_TOKENS, else the settings' ``api.tokens_file``, default
``<data_dir>/api_tokens.json``), shared by `chipassist mcp --transport http` and `chipassist serve`:

    chipassist api token add alice --groups silicon-team     # prints the token once
    {"tokens": [{"id": "3f2a9c1e", "sha256": "<hex>", "user": "alice", "groups": ["silicon-team"], ...}]}

Only the SHA-256 of each token is stored (the file is written 0600, atomically). A token is 256 random bits,
so a fast hash is enough: nothing short of the token itself can be guessed from it. The server re-reads the
file when it changes, so adding or removing a token needs no restart. Tokens never appear in responses or
logs: the server names the user, never the token.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN_PREFIX = "ca_"
TOKENS_ENV = "CHIPASSIST_API_TOKENS"


class TokenFileError(ValueError):
    """The tokens file is unreadable or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Principal:
    """Who calls: a user name and the ACL groups they may read (empty: public documents only)."""

    user: str
    groups: frozenset[str] = frozenset()
    token_id: str = ""  # the token's id in the tokens file (rate limits count per token); "" for stdio

    @property
    def acl_groups(self) -> set[str] | None:
        """The groups as the service API takes them (None: public only)."""
        return set(self.groups) or None


PUBLIC = Principal("anonymous")


def tokens_path(settings) -> Path:
    """The tokens file: $CHIPASSIST_API_TOKENS, else ``api.tokens_file``, else ``<data_dir>/api_tokens.json``."""
    return Path(os.environ.get(TOKENS_ENV) or settings.api.tokens_file or settings.data_dir / "api_tokens.json")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


class TokenStore:
    """The tokens file: add, remove and list entries; verify a presented token (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, Principal] = {}

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TokenFileError(f"{self.path}: cannot read the API tokens file: {e}") from e
        entries = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise TokenFileError(f"{self.path}: expected {{\"tokens\": [...]}}")
        for i, e in enumerate(entries):
            if not (isinstance(e, dict) and isinstance(e.get("sha256"), str) and isinstance(e.get("user"), str)
                    and isinstance(e.get("groups", []), list)):
                raise TokenFileError(f"{self.path}: tokens[{i}]: needs sha256 (hex), user and groups (a list)")
        return entries

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"tokens": entries}, f, indent=2)
        tmp.replace(self.path)  # atomic: a crash never leaves a half-written file (and no token is lost)

    def add(self, user: str, groups: list[str] | set[str] = ()) -> str:
        """Create a token for ``user`` with ``groups``; returns it (the only time it exists in clear)."""
        user = user.strip()
        if not user:
            raise ValueError("user: the token's user name is empty")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = _digest(token)
        with self._lock:
            entries = self._read()
            entries.append({"id": digest[:8], "sha256": digest, "user": user,
                            "groups": sorted({g.strip() for g in groups if g.strip()}),
                            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            self._write(entries)
        return token

    def remove(self, key: str) -> int:
        """Remove the tokens of user ``key`` or with id ``key``; returns how many were removed."""
        with self._lock:
            entries = self._read()
            kept = [e for e in entries if key not in (e["user"], e.get("id"))]
            if len(kept) != len(entries):
                self._write(kept)
        return len(entries) - len(kept)

    def entries(self) -> list[dict[str, Any]]:
        """The entries without their hashes (id, user, groups, created)."""
        return [{k: v for k, v in e.items() if k != "sha256"} for e in self._read()]

    def groups_of(self, user: str) -> set[str] | None:
        """The union of ``user``'s tokens' groups, or None when the file has no token for ``user``."""
        found = [e for e in self._read() if e["user"] == user]
        return {g for e in found for g in e.get("groups", [])} if found else None

    def verify(self, token: str | None) -> Principal | None:
        """The principal a presented token belongs to, or None (unknown, empty or malformed)."""
        if not token or len(token) > 512:
            return None
        with self._lock:
            self._reload()
            return self._by_hash.get(_digest(token))

    def _reload(self) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp or not self._by_hash and stamp is not None:
            self._by_hash = {e["sha256"]: Principal(e["user"], frozenset(e.get("groups", [])), e["sha256"][:8])
                             for e in self._read()}
            self._stamp = stamp


class TokenBucket:
    """Per-key token bucket: ``per_minute`` requests a minute on average, bursts up to ``burst``."""

    def __init__(self, per_minute: float, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst or max(1, math.ceil(per_minute / 6)))  # default: 10 s worth of requests
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 if a request is allowed now (and counted), else the seconds until one is."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate if self.rate > 0 else math.inf


def safe_text(text: str, settings) -> str:
    """``text`` with the server's secrets (settings' keys and tokens, secret environment variables, and
    anything shaped like a key) redacted: for error messages that quote exceptions."""
    from assistant.config import secret_values
    from corpora.curate import scrub_secrets

    return scrub_secrets(text, secret_values(settings))[0]
