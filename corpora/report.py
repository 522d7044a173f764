"""The ingest report: every file kept, dropped (with the reason) or deduplicated, and secrets scrubbed.

File names are the one part of the report an outsider controls: a name may hold bytes that are not UTF-8
(kept by ``os.fsdecode`` as surrogates), newlines, `|` or backticks. Recorded names are made printable
(``printable``) and every Markdown cell is escaped (``_cell``/``_code``), so each file stays one table row.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Kept:
    """A document ingestion kept, with notes on what was done to it (re-encoded, secrets scrubbed)."""
    source: str
    kind: str
    doc_type: str
    chars: int
    notes: list[str] = field(default_factory=list)  # e.g. "re-encoded from cp1252", "2 secrets scrubbed"


@dataclass
class Dropped:
    """A file ingestion skipped, and why (skip-and-report: one bad file never stops a build)."""
    path: str
    reason: str


@dataclass
class Duplicate:
    """A document left out as an exact or near copy of one that was kept."""
    source: str
    duplicate_of: str
    how: str  # exact | near


@dataclass
class IngestReport:
    """What one ingestion kept, dropped, deduplicated and scrubbed, for the CLI, JSON output and Markdown."""
    kept: list[Kept] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    secrets: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> {kind: count}
    problems: list[str] = field(default_factory=list)  # per-line problems inside files (bug exports, ...)

    def drop(self, path: str, reason: str) -> None:
        """Record a skipped file; path and reason are made printable (a file name may hold control characters)."""
        self.dropped.append(Dropped(printable(path), printable(reason)))

    def summary(self) -> dict[str, Any]:
        """The counts of each outcome, for a one-line report."""
        return {
            "kept": len(self.kept),
            "dropped": len(self.dropped),
            "duplicates": len(self.duplicates),
            "secrets_scrubbed": sum(sum(c.values()) for c in self.secrets.values()),
            "problems": len(self.problems),
            "by_kind": dict(Counter(k.kind for k in self.kept)),
            "drop_reasons": dict(Counter(d.reason.split(":")[0] for d in self.dropped)),
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary and every entry, as JSON-ready data."""
        return {"summary": self.summary(), **asdict(self)}

    def to_markdown(self) -> str:
        """The report as Markdown tables (dropped files, duplicates, scrubbed secrets, problems)."""
        s = self.summary()
        out = ["# Ingest report", "",
               f"Kept {s['kept']} documents, dropped {s['dropped']} files, removed {s['duplicates']} duplicates, "
               f"scrubbed {s['secrets_scrubbed']} secrets.", ""]
        if self.dropped:
            out += ["## Dropped", "", "| file | reason |", "|---|---|"]
            out += [f"| {_code(d.path)} | {_cell(d.reason)} |" for d in self.dropped] + [""]
        if self.duplicates:
            out += ["## Duplicates", "", "| file | duplicate of | how |", "|---|---|---|"]
            out += [f"| {_code(d.source)} | {_code(d.duplicate_of)} | {d.how} |" for d in self.duplicates] + [""]
        if self.secrets:
            out += ["## Secrets scrubbed", "", "| file | kinds |", "|---|---|"]
            out += [f"| {_code(src)} | {', '.join(f'{k} x{n}' for k, n in c.items())} |" for src, c in self.secrets.items()] + [""]
        if self.problems:
            out += ["## Problems inside files", ""] + [f"- {_cell(p)}" for p in self.problems] + [""]
        out += ["## Kept", "", "| file | kind | type | chars | notes |", "|---|---|---|---|---|"]
        out += [f"| {_code(k.source)} | {k.kind} | {k.doc_type} | {k.chars} | {_cell('; '.join(k.notes))} |"
                for k in self.kept]
        return "\n".join(out) + "\n"


def printable(text: str) -> str:
    """``text`` as valid UTF-8: bytes of a file name that are not UTF-8 are shown as ``\\xNN``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:  # os.fsdecode keeps each undecodable byte as a surrogate U+DC80..U+DCFF: show the byte
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _cell(text: str) -> str:
    """One Markdown table cell: line breaks shown as ``\\n``/``\\r`` and `|` escaped, so a row never breaks."""
    return printable(text).replace("\r", "\\r").replace("\n", "\\n").replace("|", "\\|")


def _code(text: str) -> str:
    """A file name as inline code inside a table cell (a backtick in the name lengthens the fence)."""
    text = _cell(text)
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
