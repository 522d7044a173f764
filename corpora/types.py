"""The data types every stage shares: a curated Document, a retrievable Chunk, and a BugRecord.

These are the contract between corpora/ (which makes them), retriever/ and adapters/ (which consume
them) and assistant/ (which shows them). Keep them small and serialisable (``asdict``/``model_dump``).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, Field

PUBLIC = "public"

# Data categories, used for blends (DAPT), per-type token reports and filters.
KINDS = ("docs", "rtl", "verification", "tcl", "code", "config", "bugs", "text")


def reader_groups(user_groups: Iterable[str] | str | None) -> frozenset[str] | None:
    """A reader's groups as the access rule reads them: one group name or many; None when there are none
    (public only). Callers that pass groups on (search, bugs, exports) normalise them here, not by hand."""
    if user_groups is None or isinstance(user_groups, str):
        return frozenset({user_groups}) if user_groups else None
    return frozenset(user_groups) or None


def visible(acl: Iterable[str], user_groups: Iterable[str] | str | None) -> bool:
    """THE access rule, shared by search, bugs, exports and training sets: an item whose ACL holds ``public``
    is visible to everyone; any other needs one of its groups in ``user_groups`` (None or empty: public only).
    An empty ACL is visible to no one."""
    acl = set(acl)
    if PUBLIC in acl:
        return True
    groups = reader_groups(user_groups)
    return bool(groups and groups & acl)


def strictest(*acls: Iterable[str]) -> list[str]:
    """One ACL no looser than each of ``acls``: for text that is visible only where all its parts are.

    Public ACLs add no restriction; the restricted ones are intersected, so the result needs a group that
    every restricted part allows. ``[]`` (visible to no one) when they share no group. Used for a symlink and
    its target, nested ACL manifests, a bug's file and record ACLs, and rows built from several passages.
    """
    restricted = [set(a) for a in acls if PUBLIC not in set(a)]
    if not restricted:
        return [PUBLIC]
    return sorted(set.intersection(*restricted))


def content_hash(text: str) -> str:
    """Stable hash of a document's text (sha256 hex), used for exact dedup and incremental indexing."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Document:
    """One curated source file (or one bug record) after loading and cleaning."""

    source: str  # POSIX path relative to the folder given to `index` (bugs: "<export path>#<bug id>")
    title: str
    doc_type: str  # a registered format (corpora.loaders: markdown, rst, html, pdf, text, verilog, ...) or "bug"
    kind: str  # one of KINDS
    text: str
    content_hash: str = ""
    mtime: float = 0.0
    acl: list[str] = field(default_factory=lambda: [PUBLIC])
    metadata: dict[str, Any] = field(default_factory=dict)
    # (0-based line, label) where a citation location starts ("p. 12", "slide 3"): see corpora.loaders.Loaded
    locations: list[tuple[int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.text)

    def to_dict(self) -> dict[str, Any]:
        """The document as plain data (``asdict``), for JSON and the index's store."""
        return asdict(self)


@dataclass
class Chunk:
    """A retrievable piece of a Document: a section, a module/proc, or one bug."""

    id: str  # stable: f"{source}#{ordinal}"
    source: str
    title: str  # heading path ("UART > Registers > CTRL") or unit name ("module uart_tx")
    text: str
    doc_type: str
    kind: str
    acl: list[str] = field(default_factory=lambda: [PUBLIC])
    start_line: int = 0
    end_line: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The chunk as plain data (``asdict``), for JSON and the index's store."""
        return asdict(self)

    @property
    def location(self) -> str | None:
        """Where in its source the chunk starts ("p. 12", "slide 3", "sheet Regs"), when the format has locations.

        Kept in ``metadata["location"]``, so every store that keeps a chunk's metadata keeps it too."""
        return self.metadata.get("location")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Chunk":
        """The chunk ``to_dict`` wrote."""
        return cls(**d)

    def visible_to(self, user_groups: Iterable[str] | str | None) -> bool:
        """ACL rule (`visible`): public chunks are visible to all; others need a shared group."""
        return visible(self.acl, user_groups)


class BugComment(BaseModel):
    """One comment of a bug record: who wrote it, when, and what."""
    author: str = ""
    date: str = ""
    text: str = ""


class BugRecord(BaseModel):
    """One bug from an export (JSONL, CSV or GitHub issues JSON), normalised."""

    id: str
    title: str
    description: str = ""
    comments: list[BugComment] = Field(default_factory=list)
    status: str = ""  # open, in_progress, resolved, closed, ...
    component: str = ""
    assignee: str = ""
    reporter: str = ""
    created: str = ""  # ISO 8601
    updated: str = ""
    resolution: str = ""
    labels: list[str] = Field(default_factory=list)
    severity: str = ""
    acl: list[str] = Field(default_factory=lambda: [PUBLIC])  # groups allowed to see it (export field acl/groups)
    extra: dict[str, Any] = Field(default_factory=dict)


@dataclass
class Loaded:
    """What a loader makes of one file.

    text: the file as text with ``\\n`` line ends; structure as Markdown ``#`` headings and pipe tables, so the
        prose chunker splits on it. title: the document's own title (None: its first heading, else the file name).
    doc_type: "" for the registered format's; a loader that recognises a variant may name another registered
        format (then that format's settings apply). locations: (0-based line, label) where a citation location
        starts, e.g. ``(120, "p. 12")``, ``(300, "slide 3")``; each chunk carries the label of its first line.
    meta: anything else; ``meta["notes"]`` (a list of str) goes to the ingest report, other scalars reach
        the Document's and its chunks' metadata.
    """

    text: str
    title: str | None = None
    doc_type: str = ""
    locations: list[tuple[int, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
