"""The bug store: imported bug exports kept in SQLite, looked up by id for summaries and assignment.

    store = BugStore(settings.bugs_db)            # data_dir/bugs.sqlite
    report = store.import_file("bugs.jsonl")      # counts + every problem with its line
    bug = store.get("PICO-12")                    # UnknownBugError (a KeyError) lists near ids

An import is one transaction: a bug export whose records cannot be stored leaves the store as it was.
Bugs are upserted by id, so importing a newer export of the same tracker updates them in place.
"""
from __future__ import annotations

import difflib
import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from pydantic import BaseModel, Field

from corpora.bugs import bug_to_text, load_bug_export
from corpora.types import BugRecord, content_hash

RESOLVED_STATES = frozenset({"resolved", "closed", "fixed", "done", "verified", "completed"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bugs (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,        -- BugRecord as JSON
    content_hash TEXT NOT NULL,  -- of bug_to_text(record): unchanged bugs are not rewritten
    source TEXT NOT NULL,        -- the export file it came from
    imported_at REAL NOT NULL
);
"""


class ImportReport(BaseModel):
    """What one import did: counts, and every problem as '<file>:<line>: <what>'."""

    file: str
    format: str = ""
    records: int = 0  # records read from the file
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    total_in_store: int = 0
    problems: list[str] = Field(default_factory=list)


class UnknownBugError(KeyError):
    """No bug with this id; the message lists the nearest known ids."""

    def __init__(self, bug_id: str, known: Iterable[str], where: str) -> None:
        known = list(known)
        near = difflib.get_close_matches(bug_id, known, n=5, cutoff=0.5)
        if not known:
            hint = f"no bugs in {where}; import an export first (chipassist bugs import FILE)"
        elif near:
            hint = f"nearest ids: {', '.join(near)}"
        else:
            hint = f"{len(known)} bugs known, e.g. {', '.join(sorted(known)[:5])}"
        self.bug_id, self.near = bug_id, near
        super().__init__(f"unknown bug id {bug_id!r} in {where} ({hint})")

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0])


def is_resolved(bug: BugRecord) -> bool:
    return bug.status.strip().lower().replace(" ", "_") in RESOLVED_STATES


def find_bug(bugs: list[BugRecord], bug_id: str, where: str) -> BugRecord:
    """Look ``bug_id`` up in a list of bugs (ids compared as given, then case-insensitively)."""
    by_id = {b.id: b for b in bugs}
    bug = by_id.get(bug_id) or next((b for b in bugs if b.id.lower() == bug_id.strip().lower()), None)
    if bug is None:
        raise UnknownBugError(bug_id, by_id, where)
    return bug


class BugStore:
    """Bugs in one SQLite file (created on first write)."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)

    def import_file(self, path: str | Path) -> ImportReport:
        """Load an export (see `corpora.bugs`) and upsert its bugs in one transaction.

        Raises:
            corpora.bugs.BugExportError: the file is missing or not a bug export (nothing is changed).
        """
        export = load_bug_export(path)
        report = ImportReport(file=str(path), format=export.format, records=len(export.records),
                              problems=list(export.problems))
        with closing(self._connect()) as db, db:  # `with db`: commit on success, roll back on any error
            known = dict(db.execute("SELECT id, content_hash FROM bugs"))
            now = time.time()
            for bug in export.records:
                digest = content_hash(bug_to_text(bug) + json.dumps(bug.extra, sort_keys=True, default=str))
                if known.get(bug.id) == digest:
                    report.unchanged += 1
                    continue
                if bug.id in known:
                    report.updated += 1
                else:
                    report.inserted += 1
                db.execute("INSERT OR REPLACE INTO bugs (id, record, content_hash, source, imported_at) "
                           "VALUES (?, ?, ?, ?, ?)", (bug.id, bug.model_dump_json(), digest, str(path), now))
            report.total_in_store = db.execute("SELECT COUNT(*) FROM bugs").fetchone()[0]
        return report

    def get(self, bug_id: str) -> BugRecord:
        """The bug with this id. Raises UnknownBugError (a KeyError) naming the nearest ids."""
        if not self.db_path.is_file():
            raise UnknownBugError(bug_id, [], str(self.db_path))
        with closing(self._connect()) as db:
            row = db.execute("SELECT record FROM bugs WHERE id = ?", (bug_id,)).fetchone()
            if row is None:
                row = db.execute("SELECT record FROM bugs WHERE lower(id) = lower(?)", (bug_id.strip(),)).fetchone()
            if row is None:
                raise UnknownBugError(bug_id, [r[0] for r in db.execute("SELECT id FROM bugs")], str(self.db_path))
        return BugRecord.model_validate_json(row[0])

    def all(self) -> list[BugRecord]:
        """Every stored bug, ordered by id."""
        if not self.db_path.is_file():
            return []
        with closing(self._connect()) as db:
            return [BugRecord.model_validate_json(r[0]) for r in db.execute("SELECT record FROM bugs ORDER BY id")]

    def resolved(self) -> list[BugRecord]:
        """Stored bugs whose status is resolved/closed/fixed/done/verified."""
        return [b for b in self.all() if is_resolved(b)]

    def __len__(self) -> int:
        if not self.db_path.is_file():
            return 0
        with closing(self._connect()) as db:
            return db.execute("SELECT COUNT(*) FROM bugs").fetchone()[0]

    def _connect(self) -> sqlite3.Connection:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.db_path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        return db
