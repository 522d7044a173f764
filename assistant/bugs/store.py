"""The bug store: imported bug exports kept in SQLite, looked up by id for summaries and assignment.

    store = BugStore(settings.bugs_db)            # data_dir/bugs.sqlite
    report = store.import_file("bugs.jsonl")      # counts + every problem with its line
    bug = store.get("PICO-12", user_groups={"soc-team"})   # UnknownBugError (a KeyError) lists near ids

An import is one transaction: a bug export whose records cannot be stored leaves the store as it was.
Bugs are upserted by id, so importing a newer export of the same tracker updates them in place.

Bugs carry ACL groups like documents: the strictest of the ACL manifests above the export file
(``corpora.acl``), the record's own ``acl``/``groups`` field and the groups the importer names. Every read
(`get`, `all`, `resolved`) takes the caller's groups (None: public only, as in search) and returns only
bugs visible to them (``corpora.types.visible``); a bug the caller may not see is "unknown", and the
nearest-id hints list only visible ids. Rows stored before bugs had ACLs read as public until re-imported
(the next import rewrites every bug).
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

from corpora.acl import AclTree
from corpora.bugs import bug_to_text, load_bug_export
from corpora.types import PUBLIC, BugRecord, content_hash, strictest, visible

RESOLVED_STATES = frozenset({"resolved", "closed", "fixed", "done", "verified", "completed"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bugs (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,        -- BugRecord as JSON
    content_hash TEXT NOT NULL,  -- of bug_to_text(record): unchanged bugs are not rewritten
    source TEXT NOT NULL,        -- the export file it came from
    imported_at REAL NOT NULL,
    acl TEXT NOT NULL DEFAULT '["public"]'  -- JSON list of the groups allowed to see it
);
"""
Groups = Iterable[str] | str | None


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
    """Whether the bug's status is one of the resolved states (case, spaces and underscores ignored)."""
    return bug.status.strip().lower().replace(" ", "_") in RESOLVED_STATES


def find_bug(bugs: list[BugRecord], bug_id: str, where: str) -> BugRecord:
    """Look ``bug_id`` up in a list of bugs (ids compared as given, then case-insensitively); pass only the
    bugs the caller may see, as the error's hints list ids from ``bugs``."""
    by_id = {b.id: b for b in bugs}
    bug = by_id.get(bug_id) or next((b for b in bugs if b.id.lower() == bug_id.strip().lower()), None)
    if bug is None:
        raise UnknownBugError(bug_id, by_id, where)
    return bug


def with_acls(records: list[BugRecord], path: str | Path, acl: Iterable[str] | None = None,
              problems: list[str] | None = None) -> list[BugRecord]:
    """The records of the export at ``path``, each with its effective groups: the strictest of the ACL
    manifests above the file, ``acl`` and the record's own field. A record whose ACLs share no group would
    be visible to no one: it is left out and reported in ``problems``."""
    file_acl = strictest(AclTree().groups_for_path(path), list(acl) if acl is not None else [PUBLIC])
    out = []
    for bug in records:
        groups = strictest(file_acl, bug.acl)
        if groups:
            out.append(bug.model_copy(update={"acl": groups}))
        elif problems is not None:
            problems.append(f"{path}: bug {bug.id}: its acl {bug.acl} shares no group with the file's "
                            f"{file_acl}; left out (it would be visible to no one)")
    return out


class BugStore:
    """Bugs in one SQLite file (created on first write)."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)

    def import_file(self, path: str | Path, acl: Iterable[str] | None = None) -> ImportReport:
        """Load an export (see `corpora.bugs`) and upsert its bugs in one transaction.

        Each bug's groups are the strictest of the ACL manifests above ``path``, ``acl`` (given by the
        importer, e.g. the groups of whoever uploaded it) and the record's own ``acl``/``groups`` field.

        Raises:
            corpora.bugs.BugExportError: the file is missing or not a bug export (nothing is changed).
            ValueError: an ACL manifest above the file is invalid (names it; nothing is changed).
        """
        export = load_bug_export(path)
        report = ImportReport(file=str(path), format=export.format, records=len(export.records),
                              problems=list(export.problems))
        records = with_acls(export.records, path, acl, report.problems)
        with closing(self._connect()) as db, db:  # `with db`: commit on success, roll back on any error
            known = dict(db.execute("SELECT id, content_hash FROM bugs"))
            now = time.time()
            for bug in records:
                groups = bug.acl
                digest = content_hash(bug_to_text(bug) + json.dumps([bug.extra, groups], sort_keys=True, default=str))
                if known.get(bug.id) == digest:
                    report.unchanged += 1
                    continue
                if bug.id in known:
                    report.updated += 1
                else:
                    report.inserted += 1
                db.execute("INSERT OR REPLACE INTO bugs (id, record, content_hash, source, imported_at, acl) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (bug.id, bug.model_dump_json(), digest, str(path), now, json.dumps(groups)))
            report.total_in_store = db.execute("SELECT COUNT(*) FROM bugs").fetchone()[0]
        return report

    def get(self, bug_id: str, user_groups: Groups = None) -> BugRecord:
        """The bug with this id, if visible to ``user_groups`` (None: public only).

        Raises UnknownBugError (a KeyError) naming the nearest ids the caller may see: a bug outside the
        caller's groups is not found, exactly like one that does not exist.
        """
        return find_bug(self.all(user_groups), bug_id, str(self.db_path))

    def all(self, user_groups: Groups = None) -> list[BugRecord]:
        """Every stored bug visible to ``user_groups`` (None: public only), ordered by id."""
        if not self.db_path.is_file():
            return []
        with closing(self._connect()) as db:
            rows = db.execute("SELECT record, acl FROM bugs ORDER BY id").fetchall()
        return [_with_acl(r, acl) for r, acl in rows if visible(json.loads(acl), user_groups)]

    def resolved(self, user_groups: Groups = None) -> list[BugRecord]:
        """Stored bugs visible to ``user_groups`` whose status is resolved/closed/fixed/done/verified."""
        return [b for b in self.all(user_groups) if is_resolved(b)]

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
        if "acl" not in {r[1] for r in db.execute("PRAGMA table_info(bugs)")}:  # a store from before bug ACLs
            db.execute("""ALTER TABLE bugs ADD COLUMN acl TEXT NOT NULL DEFAULT '["public"]'""")
        return db


def _with_acl(record: str, acl: str) -> BugRecord:
    """A stored record with the store's ACL column (the authority; older records lack the field)."""
    return BugRecord.model_validate_json(record).model_copy(update={"acl": json.loads(acl)})
