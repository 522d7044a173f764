"""Answer log and user feedback in SQLite, shared by the Chainlit UI, the Slack bot and the CLI.

Every answer a client shows is recorded (question, answer, sources, backend, model, time) so that a
thumbs up/down or comment arriving later attaches to it. `export()` turns the ratings into datasets for
later alignment in the formats TRL reads directly: preference pairs (DPO: prompt/chosen/rejected) where
the same question has both a liked and a disliked answer, and every rated answer (KTO: prompt/completion/label).

    chipassist feedback export --out feedback/ [--groups team]   # writes preferences.jsonl and ratings.jsonl

ACLs: every logged answer records ``acl``, the strictest of its passages' groups (``corpora.types.strictest``
over ``sources[].acl``) and of an explicit ``acl`` the client passes (a bug summary's). A source without an
ACL counts as visible to no one. `export` writes only rows visible to the given groups (default: public
only; ``corpora.types.visible``) and records ``acl`` on every row; answers logged before ACLs were recorded
(no ``acl``) are never exported.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from assistant.types import Answer
from corpora.types import strictest, visible

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    client TEXT NOT NULL,            -- ui | slack | cli
    user TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT 'ask', -- ask | tcl | bug
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    backend TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    external_ref TEXT,               -- e.g. Slack channel:ts, Chainlit message id
    acl TEXT                         -- JSON groups allowed to see it; NULL: logged before ACLs (never exported)
);
CREATE INDEX IF NOT EXISTS answers_ref ON answers(external_ref);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL REFERENCES answers(id),
    created REAL NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    rating INTEGER NOT NULL CHECK (rating IN (-1, 0, 1)),
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
"""


def _normalise(question: str) -> str:
    return " ".join(question.lower().split())


class FeedbackStore:
    """Thread-safe SQLite store; one connection per thread (SQLite connections are not shareable)."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.executescript(_SCHEMA)
            if "acl" not in {r[1] for r in c.execute("PRAGMA table_info(answers)")}:  # a log from before ACLs
                c.execute("ALTER TABLE answers ADD COLUMN acl TEXT")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer (UI + Slack at once)
            self._local.conn = conn
        return conn

    def record_answer(self, answer: Answer | dict[str, Any], *, client: str, user: str = "", mode: str = "ask",
                      external_ref: str | None = None) -> str:
        """Log an answer shown to a user; returns its id for later feedback.

        Its ACL is the strictest of ``answer["acl"]`` (if given) and every source's ``acl``.
        """
        a = answer.model_dump(mode="json") if isinstance(answer, Answer) else dict(answer)
        answer_id = uuid.uuid4().hex
        acl = answer_acl(a)
        with self._conn() as c:
            c.execute(
                "INSERT INTO answers (id, created, client, user, mode, question, answer, sources, backend, model,"
                " external_ref, acl) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (answer_id, time.time(), client, user, mode, a.get("question", ""), a.get("text", ""),
                 json.dumps(a.get("sources", [])), a.get("backend", ""), a.get("model", ""), external_ref,
                 json.dumps(acl)),
            )
        return answer_id

    def add_feedback(self, answer_id: str, rating: int, *, comment: str = "", user: str = "") -> int:
        """Attach a rating (+1, -1, or 0 for a comment only) to a logged answer."""
        if rating not in (-1, 0, 1):
            raise ValueError(f"rating must be -1, 0 or 1, got {rating!r}")
        with self._conn() as c:
            if c.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise KeyError(f"no answer with id {answer_id!r} in {self.path}")
            cur = c.execute("INSERT INTO feedback (answer_id, created, user, rating, comment) VALUES (?,?,?,?,?)",
                            (answer_id, time.time(), user, rating, comment))
            return int(cur.lastrowid)

    def answer_id_for_ref(self, external_ref: str) -> str | None:
        """The newest answer logged under a client's message reference (Slack "channel:ts",
        a Chainlit message id), or None: how a reaction or rating finds its answer."""
        row = self._conn().execute("SELECT id FROM answers WHERE external_ref = ? ORDER BY created DESC LIMIT 1",
                                   (external_ref,)).fetchone()
        return row["id"] if row else None

    def rows(self) -> list[dict[str, Any]]:
        """Every feedback row joined with its answer (newest last)."""
        q = ("SELECT f.id AS feedback_id, f.rating, f.comment, f.user AS rater, f.created AS rated_at, a.* "
             "FROM feedback f JOIN answers a ON a.id = f.answer_id ORDER BY f.id")
        return [dict(r) for r in self._conn().execute(q)]

    def export(self, out_dir: str | Path, user_groups: Any = None) -> dict[str, int]:
        """Write preferences.jsonl (DPO pairs) and ratings.jsonl (KTO rows) of the answers visible to
        ``user_groups`` (None: public only), each row with its ``acl``; return their counts and how many
        rated answers were ``withheld`` (outside the groups, or logged without an ACL).

        The latest non-zero rating per (answer, rater) counts, so a user changing their mind is honoured.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        comments: dict[str, list[str]] = defaultdict(list)
        rows = self.rows()
        allowed = [r for r in rows if r["acl"] is not None and visible(json.loads(r["acl"]), user_groups)]
        withheld = len({r["id"] for r in rows if r["rating"] != 0} - {r["id"] for r in allowed})
        for r in allowed:
            if r["comment"]:
                comments[r["id"]].append(r["comment"])
            if r["rating"] != 0:
                latest[(r["id"], r["rater"])] = r
        by_answer: dict[str, dict[str, Any]] = {}
        for r in latest.values():
            agg = by_answer.setdefault(r["id"], {**r, "score": 0})
            agg["score"] += r["rating"]
        ratings = [
            {"prompt": r["question"], "completion": r["answer"], "label": r["score"] > 0, "score": r["score"],
             "mode": r["mode"], "backend": r["backend"], "model": r["model"], "client": r["client"],
             "sources": json.loads(r["sources"]), "comments": comments.get(r["id"], []),
             "acl": json.loads(r["acl"])}
            for r in by_answer.values() if r["score"] != 0
        ]
        by_question: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {"good": [], "bad": []})
        prompts: dict[str, str] = {}
        for row in ratings:
            key = _normalise(row["prompt"])
            prompts.setdefault(key, row["prompt"])
            by_question[key]["good" if row["label"] else "bad"].append(row)
        prefs = [
            {"prompt": prompts[key], "chosen": good["completion"], "rejected": bad["completion"],
             "acl": strictest(good["acl"], bad["acl"])}
            for key, sides in by_question.items() for good in sides["good"] for bad in sides["bad"]
        ]
        _write_jsonl(out / "preferences.jsonl", prefs)
        _write_jsonl(out / "ratings.jsonl", ratings)
        return {"preferences": len(prefs), "ratings": len(ratings), "withheld": withheld}


def answer_acl(answer: dict[str, Any]) -> list[str]:
    """The groups allowed to see a logged answer: the strictest of its own ``acl`` (if any) and of every
    source's (a source without one counts as visible to no one: unknown visibility must not export)."""
    acls = [s.get("acl", []) if isinstance(s, dict) else [] for s in answer.get("sources") or []]
    if answer.get("acl") is not None:
        acls.append(answer["acl"])
    return strictest(*acls)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)  # atomic: a crash never leaves a half-written dataset
