"""SQLite store of an index generation: chunk text, metadata, ACLs, vectors, per-document state and manifest.

SQLite is the source of truth; FAISS and BM25 are derived from it. Keeping each chunk's vectors (one per
passage window, ``retriever.windows``, stacked in one blob) here lets an
HNSW index be rebuilt without re-embedding and lets a build copy the previous generation and change only
what changed. One file, ``store.sqlite``, per generation folder (see ``retriever.index`` for the layout).
"""
from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from corpora.types import Chunk, Document

FILE = "store.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    source TEXT PRIMARY KEY, content_hash TEXT NOT NULL, mtime REAL, title TEXT, doc_type TEXT, kind TEXT,
    acl TEXT NOT NULL, n_chunks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    vid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, source TEXT NOT NULL, title TEXT,
    text TEXT NOT NULL, doc_type TEXT, kind TEXT, acl TEXT NOT NULL, start_line INTEGER, end_line INTEGER,
    metadata TEXT, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
"""
_CHUNK_COLS = "vid, id, source, title, text, doc_type, kind, acl, start_line, end_line, metadata"


def _chunk(row: tuple) -> Chunk:
    _, cid, source, title, text, doc_type, kind, acl, start, end, meta = row
    return Chunk(id=cid, source=source, title=title or "", text=text, doc_type=doc_type or "",
                 kind=kind or "", acl=json.loads(acl), start_line=start or 0, end_line=end or 0,
                 metadata=json.loads(meta or "{}"))


class Store:
    """One SQLite file; safe to read from several threads (one connection behind a lock)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        if not readonly:
            self._db.executescript(_SCHEMA)
        else:
            self._db.execute("SELECT 1 FROM chunks LIMIT 1")  # fail now, not at the first query, if not ours

    def close(self) -> None:
        """Close the SQLite connection (uncommitted changes are lost: call ``commit`` first)."""
        self._db.close()

    def commit(self) -> None:
        """Commit the pending writes; a build commits once per generation, so a crash leaves the old one."""
        self._db.commit()

    # -- manifest ------------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        """The manifest value stored under ``key`` (JSON-decoded), else ``default``."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        """Store ``value`` (as JSON) under ``key`` in the manifest, replacing any old value."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, default=str)))

    # -- documents -----------------------------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        """source -> content hash of every indexed document."""
        return dict(self._db.execute("SELECT source, content_hash FROM documents"))

    def document_acls(self) -> dict[str, list[str]]:
        """source -> ACL groups of every indexed document."""
        return {s: json.loads(acl) for s, acl in self._db.execute("SELECT source, acl FROM documents")}

    def set_acl(self, source: str, acl: list[str]) -> None:
        """Give a document and its chunks new ACL groups (its text, chunks and vectors are unchanged)."""
        self._db.execute("UPDATE documents SET acl = ? WHERE source = ?", (json.dumps(acl), source))
        self._db.execute("UPDATE chunks SET acl = ? WHERE source = ?", (json.dumps(acl), source))

    def remove_document(self, source: str) -> list[int]:
        """Delete a document and its chunks; returns the removed chunks' vector ids."""
        vids = [r[0] for r in self._db.execute("SELECT vid FROM chunks WHERE source = ?", (source,))]
        self._db.execute("DELETE FROM chunks WHERE source = ?", (source,))
        self._db.execute("DELETE FROM documents WHERE source = ?", (source,))
        return vids

    def add_document(self, doc: Document, chunks: list[Chunk], vectors: list[np.ndarray]) -> list[int]:
        """Insert a document's state and its chunks, each with its (windows, dim) vectors; returns their vids."""
        self._db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (doc.source, doc.content_hash, doc.mtime, doc.title, doc.doc_type, doc.kind,
                          json.dumps(doc.acl), len(chunks)))
        vids = []
        for c, v in zip(chunks, vectors, strict=True):
            cur = self._db.execute(
                f"INSERT INTO chunks ({_CHUNK_COLS}, vector) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (c.id, c.source, c.title, c.text, c.doc_type, c.kind, json.dumps(c.acl), c.start_line,
                 c.end_line, json.dumps(c.metadata, default=str), np.asarray(v, dtype=np.float32).tobytes()))
            vids.append(int(cur.lastrowid))
        return vids

    # -- chunks --------------------------------------------------------------------------------
    def count(self, table: str = "chunks") -> int:
        """Rows in ``table`` (``chunks`` or ``documents``)."""
        assert table in ("chunks", "documents")
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def chunks_by_vid(self, vids: Iterable[int]) -> dict[int, Chunk]:
        """The chunks with the given vector ids, by id (ids not in the store are left out)."""
        vids = [int(v) for v in vids]
        if not vids:
            return {}
        marks = ",".join("?" * len(vids))
        with self._lock:
            sql = f"SELECT {_CHUNK_COLS} FROM chunks WHERE vid IN ({marks})"
            rows = self._db.execute(sql, vids).fetchall()
        return {r[0]: _chunk(r) for r in rows}

    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        """The chunk with the stable id ``chunk_id`` ("source#n"), or None."""
        with self._lock:
            row = self._db.execute(f"SELECT {_CHUNK_COLS} FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        return _chunk(row) if row else None

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every chunk in insertion order (a snapshot: safe to search while iterating)."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_CHUNK_COLS} FROM chunks ORDER BY vid").fetchall()
        for r in rows:
            yield _chunk(r)

    def acls(self) -> dict[int, frozenset[str]]:
        """vid -> ACL groups, kept in memory by ``Index`` so filtering costs no query."""
        with self._lock:
            rows = self._db.execute("SELECT vid, acl FROM chunks").fetchall()
        return {vid: frozenset(json.loads(acl)) for vid, acl in rows}

    def sections(self) -> list[tuple[int, str, str, str]]:
        """(vid, source, title, text) of every chunk in vid order, for the BM25 index."""
        return [(vid, source, title or "", text) for vid, source, title, text in
                self._db.execute("SELECT vid, source, title, text FROM chunks ORDER BY vid")]

    def chunk_vectors(self, dim: int) -> dict[int, np.ndarray]:
        """vid -> that chunk's (windows, dim) vectors."""
        rows = self._db.execute("SELECT vid, vector FROM chunks ORDER BY vid").fetchall()
        return {vid: np.frombuffer(blob, dtype=np.float32).reshape(-1, dim) for vid, blob in rows}

    def document_vectors(self, dim: int, stride: int, *, vectors: bool = True
                         ) -> Iterator[tuple[str, list[str], np.ndarray, np.ndarray | None]]:
        """(source, ACL, window ids, (windows, dim) vectors) of every document with chunks, as a vector store
        holds them (``retriever.stores``, ids from ``retriever.windows``). ``vectors=False``: ids only (the
        vector is None), reading just each blob's length."""
        from retriever.windows import ids as window_ids

        column = "vector" if vectors else "length(vector)"
        with self._lock:
            rows = self._db.execute(f"SELECT source, acl, vid, {column} FROM chunks ORDER BY source, vid").fetchall()
        for source, group in itertools.groupby(rows, key=lambda r: r[0]):
            group = list(group)
            if vectors:
                mats = [np.frombuffer(blob, dtype=np.float32).reshape(-1, dim) for *_, blob in group]
                sizes = [len(m) for m in mats]
            else:
                mats, sizes = [], [n // (4 * dim) for *_, n in group]
            ids = np.concatenate([window_ids(vid, n, stride) for (_, _, vid, _), n in zip(group, sizes)])
            yield source, json.loads(group[0][1]), ids, (np.concatenate(mats) if vectors else None)
