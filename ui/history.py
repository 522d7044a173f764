"""Chat history for the Chainlit UI in one SQLite file, and the bridge from Chainlit's feedback to ours.

Chainlit 2.x persists threads, steps (messages), elements and feedback through a data layer. Its bundled
SQLAlchemy layer needs aiosqlite plus hand-made tables, and its default one needs PostgreSQL; this small
layer keeps each thread and step as a JSON row in `<data_dir>/chat_history.sqlite` (sqlite3 in a worker
thread), which is all the history sidebar and "resume chat" need. Thumbs up/down and comments go to
`assistant.feedback.FeedbackStore` (feedback.sqlite), attached to the answer recorded under the message id.

    from ui.history import SQLiteDataLayer
    layer = SQLiteDataLayer(settings.data_dir / "chat_history.sqlite", FeedbackStore(settings.feedback_db))
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chainlit.data.base import BaseDataLayer
from chainlit.types import Feedback, PageInfo, PaginatedResponse, Pagination, ThreadDict, ThreadFilter
from chainlit.user import PersistedUser, User

from assistant.feedback import FeedbackStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, identifier TEXT UNIQUE NOT NULL,
                                  metadata TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS threads (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, name TEXT, user_id TEXT,
                                    user_identifier TEXT, tags TEXT, metadata TEXT);
CREATE TABLE IF NOT EXISTS steps (id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, created_at TEXT NOT NULL,
                                  data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS steps_thread ON steps(thread_id, created_at);
CREATE TABLE IF NOT EXISTS feedbacks (id TEXT PRIMARY KEY, for_id TEXT NOT NULL, thread_id TEXT,
                                      value INTEGER NOT NULL, comment TEXT);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class SQLiteDataLayer(BaseDataLayer):
    """Chainlit data layer over SQLite; every call runs its query in a worker thread."""

    def __init__(self, db_path: Path, feedback: FeedbackStore) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.feedback = feedback
        self._lock = threading.Lock()  # one writer at a time; SQLite would serialise anyway
        self._local = threading.local()
        with self._connect() as c:
            c.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        """One connection per worker thread, in WAL mode: readers never wait for the writer and a commit
        costs no fsync of the whole file (history is a convenience; a crash may lose the last message)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def _run(self, sql: str, params: tuple = (), *, fetch: bool = False) -> list[sqlite3.Row]:
        with self._lock:
            c = self._connect()
            with c:  # one transaction per statement: committed on success, rolled back on error
                cur = c.execute(sql, params)
                return cur.fetchall() if fetch else []

    async def _q(self, sql: str, params: tuple = (), *, fetch: bool = False) -> list[sqlite3.Row]:
        return await asyncio.to_thread(self._run, sql, params, fetch=fetch)

    # -- users ----------------------------------------------------------------------------------
    async def get_user(self, identifier: str) -> PersistedUser | None:
        """The stored user ``identifier``, or None."""
        rows = await self._q("SELECT * FROM users WHERE identifier = ?", (identifier,), fetch=True)
        if not rows:
            return None
        r = rows[0]
        return PersistedUser(id=r["id"], identifier=r["identifier"], createdAt=r["created_at"],
                             metadata=json.loads(r["metadata"]))

    async def create_user(self, user: User) -> PersistedUser | None:
        # Groups can change in the config between logins, so the metadata is refreshed every time.
        """Store (or refresh) a user at login and return it as stored."""
        await self._q("INSERT INTO users (id, identifier, metadata, created_at) VALUES (?,?,?,?) "
                      "ON CONFLICT(identifier) DO UPDATE SET metadata = excluded.metadata",
                      (uuid.uuid4().hex, user.identifier, json.dumps(user.metadata), _now()))
        return await self.get_user(user.identifier)

    # -- feedback -------------------------------------------------------------------------------
    async def upsert_feedback(self, feedback: Feedback) -> str:
        """Store Chainlit's feedback (value 1 = up, 0 = down) and add it to the answer log's ratings."""
        feedback_id = feedback.id or uuid.uuid4().hex
        await self._q("INSERT INTO feedbacks (id, for_id, thread_id, value, comment) VALUES (?,?,?,?,?) "
                      "ON CONFLICT(id) DO UPDATE SET value = excluded.value, comment = excluded.comment",
                      (feedback_id, feedback.forId, feedback.threadId, feedback.value, feedback.comment))
        answer_id = await self._answer_for(feedback.forId)
        if answer_id is not None:  # messages that are not answers (errors, help) have nothing to rate
            user = await self.get_thread_author(feedback.threadId) if feedback.threadId else ""
            await asyncio.to_thread(self.feedback.add_feedback, answer_id, 1 if feedback.value else -1,
                                    comment=feedback.comment or "", user=user)
        return feedback_id

    async def _answer_for(self, step_id: str) -> str | None:
        """The logged answer a rating is for: Chainlit rates the `run` step wrapping a reply, so look at the
        step itself, then at the messages inside it (the newest answer wins)."""
        children = await self._q("SELECT id FROM steps WHERE json_extract(data, '$.parentId') = ? "
                                 "ORDER BY created_at DESC", (step_id,), fetch=True)
        for ref in [step_id, *(r["id"] for r in children)]:
            answer_id = await asyncio.to_thread(self.feedback.answer_id_for_ref, ref)
            if answer_id is not None:
                return answer_id
        return None

    async def delete_feedback(self, feedback_id: str) -> bool:
        """Delete the rating ``feedback_id`` (ratings already in the answer log stay)."""
        await self._q("DELETE FROM feedbacks WHERE id = ?", (feedback_id,))
        return True

    # -- elements and steps ---------------------------------------------------------------------
    # Elements (source snippets, script downloads) live only in the live session: their content would need a
    # file store to come back; the resumed chat still shows each answer's text with its numbered sources.
    async def create_element(self, element) -> None:
        """Not stored: elements live only in the live session."""
        return None

    async def get_element(self, thread_id: str, element_id: str):
        """Always None: elements are not stored."""
        return None

    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        """Nothing to delete: elements are not stored."""
        return None

    async def create_step(self, step_dict: dict) -> None:
        """Store a step (message, run) of a thread, replacing any older version of it."""
        await self._ensure_thread(step_dict["threadId"])
        await self._q("INSERT OR REPLACE INTO steps (id, thread_id, created_at, data) VALUES (?,?,?,?)",
                      (step_dict["id"], step_dict["threadId"], step_dict.get("createdAt") or _now(),
                       json.dumps(step_dict, default=str)))

    async def update_step(self, step_dict: dict) -> None:
        """Merge ``step_dict`` into the stored step (Chainlit sends partial updates)."""
        rows = await self._q("SELECT data FROM steps WHERE id = ?", (step_dict["id"],), fetch=True)
        merged = {**(json.loads(rows[0]["data"]) if rows else {}), **step_dict}
        await self.create_step(merged)

    async def delete_step(self, step_id: str) -> None:
        """Delete the step ``step_id``."""
        await self._q("DELETE FROM steps WHERE id = ?", (step_id,))

    async def get_favorite_steps(self, user_id: str) -> list:
        """Always empty: favourites are not supported."""
        return []

    # -- threads --------------------------------------------------------------------------------
    async def _ensure_thread(self, thread_id: str) -> None:
        await self._q("INSERT OR IGNORE INTO threads (id, created_at) VALUES (?,?)", (thread_id, _now()))

    async def get_thread_author(self, thread_id: str) -> str:
        """The identifier of the user who owns ``thread_id`` ("" when unknown)."""
        rows = await self._q("SELECT user_identifier FROM threads WHERE id = ?", (thread_id,), fetch=True)
        return (rows[0]["user_identifier"] or "") if rows else ""

    async def update_thread(self, thread_id: str, name: str | None = None, user_id: str | None = None,
                            metadata: dict | None = None, tags: list[str] | None = None) -> None:
        """Set a thread's name, owner, tags or metadata (None leaves a field as it is)."""
        await self._ensure_thread(thread_id)
        if name is not None and not name.strip():
            name = "(file upload)"  # a chat opened with an upload and no text still belongs in the history list
        identifier = None
        if user_id:
            rows = await self._q("SELECT identifier FROM users WHERE id = ?", (user_id,), fetch=True)
            identifier = rows[0]["identifier"] if rows else None
        await self._q(
            "UPDATE threads SET name = COALESCE(?, name), user_id = COALESCE(?, user_id),"
            " user_identifier = COALESCE(?, user_identifier), tags = COALESCE(?, tags),"
            " metadata = COALESCE(?, metadata) WHERE id = ?",
            (name[:200] if name else None, user_id, identifier, json.dumps(tags) if tags is not None else None,
             json.dumps(metadata) if metadata is not None else None, thread_id))

    async def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and all its steps."""
        for table, column in (("steps", "thread_id"), ("threads", "id")):
            await self._q(f"DELETE FROM {table} WHERE {column} = ?", (thread_id,))

    def _thread(self, r: sqlite3.Row, steps: list[dict[str, Any]], elements: list[dict]) -> ThreadDict:
        return ThreadDict(id=r["id"], createdAt=r["created_at"], name=r["name"], userId=r["user_id"],
                          userIdentifier=r["user_identifier"], tags=json.loads(r["tags"] or "null"),
                          metadata=json.loads(r["metadata"] or "{}"), steps=steps, elements=elements)

    async def list_threads(self, pagination: Pagination, filters: ThreadFilter) -> PaginatedResponse[ThreadDict]:
        """One page of threads with a name, newest first, filtered by user and name search."""
        sql, params = "SELECT * FROM threads WHERE name IS NOT NULL", []
        if filters.userId:
            sql += " AND user_id = ?"
            params.append(filters.userId)
        if filters.search:
            sql += " AND name LIKE ?"
            params.append(f"%{filters.search}%")
        if pagination.cursor:
            sql += " AND created_at < (SELECT created_at FROM threads WHERE id = ?)"
            params.append(pagination.cursor)
        sql += " ORDER BY created_at DESC LIMIT ?"
        params.append(pagination.first + 1)
        rows = await self._q(sql, tuple(params), fetch=True)
        page = [self._thread(r, [], []) for r in rows[: pagination.first]]
        return PaginatedResponse(
            data=page,
            pageInfo=PageInfo(hasNextPage=len(rows) > pagination.first,
                              startCursor=page[0]["id"] if page else None,
                              endCursor=page[-1]["id"] if page else None))

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        """A thread with its steps in order and each step's rating, or None."""
        rows = await self._q("SELECT * FROM threads WHERE id = ?", (thread_id,), fetch=True)
        if not rows:
            return None
        steps = [json.loads(s["data"]) for s in await self._q(
            "SELECT data FROM steps WHERE thread_id = ? ORDER BY created_at", (thread_id,), fetch=True)]
        feedback = {f["for_id"]: {"id": f["id"], "forId": f["for_id"], "value": f["value"], "comment": f["comment"]}
                    for f in await self._q("SELECT * FROM feedbacks WHERE thread_id = ?", (thread_id,), fetch=True)}
        for step in steps:
            if step["id"] in feedback:
                step["feedback"] = feedback[step["id"]]
        return self._thread(rows[0], steps, [])

    async def build_debug_url(self) -> str:
        """No debug URL (Chainlit's Literal AI only)."""
        return ""

    async def close(self) -> None:
        """Nothing to close here: each worker thread keeps its own connection (see ``_connect``)."""
        return None
