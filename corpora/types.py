"""The data types every stage shares: a curated Document, a retrievable Chunk, and a BugRecord.

These are the contract between corpora/ (which makes them), retriever/ and adapters/ (which consume
them) and assistant/ (which shows them). Keep them small and serialisable (``asdict``/``model_dump``).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, Field

PUBLIC = "public"

# Data categories, used for blends (DAPT), per-type token reports and filters.
KINDS = ("docs", "rtl", "verification", "tcl", "code", "config", "bugs", "text")


def content_hash(text: str) -> str:
    """Stable hash of a document's text (sha256 hex), used for exact dedup and incremental indexing."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Document:
    """One curated source file (or one bug record) after loading and cleaning."""

    source: str  # POSIX path relative to the folder given to `index` (bugs: "<export path>#<bug id>")
    title: str
    doc_type: str  # markdown, rst, html, pdf, text, verilog, systemverilog, tcl, python, c, cpp, hjson, yaml, json, bug
    kind: str  # one of KINDS
    text: str
    content_hash: str = ""
    mtime: float = 0.0
    acl: list[str] = field(default_factory=lambda: [PUBLIC])
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.text)

    def to_dict(self) -> dict[str, Any]:
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
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Chunk":
        return cls(**d)

    def visible_to(self, user_groups: set[str] | None) -> bool:
        """ACL rule: public chunks are visible to all; others need a shared group."""
        return PUBLIC in self.acl or bool(user_groups and user_groups.intersection(self.acl))


class BugComment(BaseModel):
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
    extra: dict[str, Any] = Field(default_factory=dict)
