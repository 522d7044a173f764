"""The ingest report: every file kept, dropped (with the reason) or deduplicated, and secrets scrubbed."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Kept:
    source: str
    kind: str
    doc_type: str
    chars: int
    notes: list[str] = field(default_factory=list)  # e.g. "re-encoded from cp1252", "2 secrets scrubbed"


@dataclass
class Dropped:
    path: str
    reason: str


@dataclass
class Duplicate:
    source: str
    duplicate_of: str
    how: str  # exact | near


@dataclass
class IngestReport:
    kept: list[Kept] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    secrets: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> {kind: count}
    problems: list[str] = field(default_factory=list)  # per-line problems inside files (bug exports, ...)

    def drop(self, path: str, reason: str) -> None:
        self.dropped.append(Dropped(path, reason))

    def summary(self) -> dict[str, Any]:
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
        return {"summary": self.summary(), **asdict(self)}

    def to_markdown(self) -> str:
        s = self.summary()
        out = ["# Ingest report", "",
               f"Kept {s['kept']} documents, dropped {s['dropped']} files, removed {s['duplicates']} duplicates, "
               f"scrubbed {s['secrets_scrubbed']} secrets.", ""]
        if self.dropped:
            out += ["## Dropped", "", "| file | reason |", "|---|---|"]
            out += [f"| `{d.path}` | {d.reason} |" for d in self.dropped] + [""]
        if self.duplicates:
            out += ["## Duplicates", "", "| file | duplicate of | how |", "|---|---|---|"]
            out += [f"| `{d.source}` | `{d.duplicate_of}` | {d.how} |" for d in self.duplicates] + [""]
        if self.secrets:
            out += ["## Secrets scrubbed", "", "| file | kinds |", "|---|---|"]
            out += [f"| `{src}` | {', '.join(f'{k} x{n}' for k, n in c.items())} |" for src, c in self.secrets.items()] + [""]
        if self.problems:
            out += ["## Problems inside files", ""] + [f"- {p}" for p in self.problems] + [""]
        out += ["## Kept", "", "| file | kind | type | chars | notes |", "|---|---|---|---|---|"]
        out += [f"| `{k.source}` | {k.kind} | {k.doc_type} | {k.chars} | {'; '.join(k.notes)} |" for k in self.kept]
        return "\n".join(out) + "\n"
