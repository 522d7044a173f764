"""Vectors embedded by an unfinished build, kept so that a re-run after a crash does not embed them again.

A build writes each embedding step's vectors to ``index_dir/.embed-cache.sqlite`` (committed per step, so
a kill -9 loses at most one step) and deletes the file once its generation is committed. Keys are the
model fingerprint plus the text's hash, so a cache left by another model is never used.
"""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np

FILE = ".embed-cache.sqlite"


class EmbedCache:
    """Vectors already embedded by a build, keyed by model fingerprint and text, in a SQLite file.

    A damaged cache file is only lost work: it is replaced by an empty one."""

    def __init__(self, index_dir: Path, fingerprint: str) -> None:
        self.path = index_dir / FILE
        self.fingerprint = fingerprint
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)")
        except sqlite3.DatabaseError:  # a damaged cache is only lost work: start a new one
            self.path.unlink(missing_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute("CREATE TABLE vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)")

    def key(self, text: str) -> str:
        """The cache key of ``text``: a hash of the model fingerprint and the text."""
        return hashlib.sha256(f"{self.fingerprint}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors of ``keys`` that are present, by key (queried 500 keys at a time)."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ",".join("?" * len(part))
            for k, v in self._db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", part):
                found[k] = np.frombuffer(v, dtype=np.float32)
        return found

    def put(self, keys: list[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` under ``keys`` and commit, so a kill after this step keeps them."""
        self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                             [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)])
        self._db.commit()

    def close(self) -> None:
        """Close the cache file (kept on disk for the next run)."""
        self._db.close()

    def discard(self) -> None:
        """Close and delete the cache file (its generation was committed)."""
        self.close()
        self.path.unlink(missing_ok=True)
