"""Load bug exports into normalised `BugRecord`s, reporting every bad line instead of stopping.

Three formats, detected from the content (the file extension is only a hint):

- **JSON lines** (``.jsonl``): one bug object per line with the fields of `BugRecord`
  (``id, title, description, comments, status, component, assignee, reporter, created, updated,
  resolution, labels, severity``); other keys are kept in ``extra`` (e.g. ``history``, a list of
  ``{"date", "author", "field", "from", "to"}`` status changes). A JSON array of such objects also works.
- **CSV** with a header row naming the same columns. The ``comments`` column holds either a JSON list
  (of strings or ``{"author", "date", "text"}`` objects) or plain text with comments separated by
  `` || ``, each written ``author (date): text`` or ``author: text`` (the author a single word) or just text.
  ``labels`` is a JSON list or a comma/semicolon-separated list.
- Any format: an ``acl`` (or ``groups``) field/column lists the groups allowed to see the bug, like
  ``labels``; none means public. The bug store and the indexer combine it with the ACL manifests of the
  export file (``corpora.acl``), strictest wins.
- **GitHub REST issues JSON**: a list of issues (``number, title, body, state, labels[{name}],
  assignee{login}, user{login}, created_at, updated_at, closed_at``), optionally with an embedded
  ``comments`` list (``[{user{login}, created_at, body}]``; GitHub's integer comment count is ignored).
  The component comes from a label ``component:X`` (or ``component/X``, ``area:X``, ``comp:X``).

A record without ``id`` or ``title`` is skipped; a record missing ``status``, ``component`` or
``description`` is imported and reported. Every problem reads ``<file>:<line>: <what>``.

    from corpora.bugs import load_bug_export
    export = load_bug_export("corpora/sample/bugs/bugs.jsonl")
    export.records, export.problems
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from corpora.config_io import format_validation_error
from corpora.types import PUBLIC, BugComment, BugRecord

REQUIRED = ("id", "title")
RECOMMENDED = ("status", "component", "description")
MAX_EXPORT_BYTES = 512 * 1024 * 1024
COMMENT_SEPARATOR = " || "

# Common alternative column names, mapped onto BugRecord's field names.
_ALIASES = {
    "key": "id", "bug_id": "id", "summary": "title", "body": "description", "state": "status",
    "owner": "assignee", "author": "reporter", "created_at": "created", "updated_at": "updated",
    "priority": "severity", "groups": "acl",
}
_FIELDS = set(BugRecord.model_fields) - {"extra"}
_COMPONENT_LABEL = re.compile(r"^(?:component|comp|area)[:/]\s*(.+)$", re.IGNORECASE)
_COMMENT_HEAD = re.compile(r"^(?P<author>[^\s:()]+)(?:\s+\((?P<date>[^)]*)\))?:\s+(?P<text>.*)$", re.DOTALL)


class BugExportError(ValueError):
    """The export as a whole cannot be read (missing, too big, not a bug export); names the file."""


@dataclass
class BugExport:
    """The bugs read from one export file, with the per-record problems that were skipped and reported."""
    records: list[BugRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    format: str = ""  # jsonl | csv | github | json


def load_bug_export(path: str | Path) -> BugExport:
    """Read a bug export (JSON lines, CSV or GitHub issues JSON); bad records are reported and skipped.

    Raises:
        BugExportError: the file is missing, unreadable, too large, or not in a known format.
    """
    path = Path(path)
    text, problems = _read_text(path)
    fmt = _detect_format(path, text)
    if fmt == "csv":
        raw, more = _csv_rows(path, text)
    elif fmt == "jsonl":
        raw, more = _jsonl_rows(path, text)
    else:
        raw, more = _json_array_rows(path, text)
    problems += more
    export = BugExport(format=fmt, problems=problems)
    seen: dict[str, int] = {}
    for line, obj in raw:
        fields = _github_fields(obj) if fmt == "github" else _generic_fields(obj)
        record = _to_record(path, line, fields, export.problems)
        if record is None:
            continue
        if record.id in seen:
            export.problems.append(f"{path}:{line}: duplicate bug id {record.id!r} (first at line "
                                   f"{seen[record.id]}); the later record is kept")
            export.records = [r for r in export.records if r.id != record.id]
        seen[record.id] = line
        export.records.append(record)
    return export


def looks_like_bug_export(path: str | Path) -> bool:
    """Cheap check (first 64 KiB) whether a .jsonl/.json/.csv file is a bug export rather than other data."""
    path = Path(path)
    if path.suffix.lower() not in (".jsonl", ".json", ".csv", ".ndjson"):
        return False
    try:
        with path.open("rb") as f:
            head = f.read(65536).decode("utf-8-sig", errors="replace")
    except OSError:
        return False
    stripped = head.lstrip()
    if path.suffix.lower() == ".csv":
        header = {_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in next(csv.reader([head.split("\n", 1)[0]]), [])}
        return {"id", "title"} <= header and bool(header & {"status", "component", "comments", "assignee"})
    if stripped.startswith("["):
        keys = set(re.findall(r'"(\w+)"\s*:', head[:8192]))
        github = {"number", "title"} <= keys and bool(keys & {"body", "state"})
        generic = {"id", "title"} <= keys and bool(keys & {"status", "component", "comments"})
        return github or generic
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    try:
        obj = json.loads(first)
    except ValueError:
        return False
    keys = {_ALIASES.get(k, k) for k in obj} if isinstance(obj, dict) else set()
    return {"id", "title"} <= keys and bool(keys & {"status", "component", "comments", "assignee"})


def bug_to_text(record: BugRecord) -> str:
    """The text a bug is indexed and embedded by: title, fields, description, then the comments in order."""
    fields = [("Status", record.status), ("Component", record.component), ("Assignee", record.assignee),
              ("Reporter", record.reporter), ("Severity", record.severity), ("Resolution", record.resolution),
              ("Labels", ", ".join(record.labels)), ("Created", record.created), ("Updated", record.updated)]
    lines = [f"Bug {record.id}: {record.title}"]
    shown = [f"{name}: {value}" for name, value in fields if value]
    if shown:
        lines.append(" | ".join(shown))
    if record.description.strip():
        lines += ["", "Description:", record.description.strip()]
    if record.comments:
        lines += ["", "Comments:"]
        for c in record.comments:
            who = " ".join(p for p in (f"[{c.date}]" if c.date else "", c.author or "unknown") if p)
            lines.append(f"{who}: {c.text.strip()}")
    return "\n".join(lines)


# -- reading and format detection -------------------------------------------------------------------

def _read_text(path: Path) -> tuple[str, list[str]]:
    if not path.exists():
        raise BugExportError(f"{path}: bug export not found")
    if not path.is_file():
        raise BugExportError(f"{path}: not a file")
    size = path.stat().st_size
    if size > MAX_EXPORT_BYTES:
        raise BugExportError(f"{path}: {size} bytes is larger than the {MAX_EXPORT_BYTES} byte limit for a bug export")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BugExportError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return (data.decode("utf-8-sig", errors="replace"),
                [f"{path}:{line}: not valid UTF-8 (byte {e.start}); undecodable bytes replaced with U+FFFD"])


def _detect_format(path: Path, text: str) -> str:
    stripped = text.lstrip()
    if not stripped:
        raise BugExportError(f"{path}: the bug export is empty")
    if stripped.startswith("["):
        head = stripped[:8192]
        return "github" if re.search(r'"number"\s*:', head) and not re.search(r'"id"\s*:\s*"', head) else "json"
    if stripped.startswith("{"):
        return "jsonl"
    if path.suffix.lower() == ".csv" or "," in stripped.split("\n", 1)[0]:
        return "csv"
    raise BugExportError(f"{path}: not a bug export (expected JSON lines, CSV with a header, or a JSON list)")


def _jsonl_rows(path: Path, text: str) -> tuple[list[tuple[int, Any]], list[str]]:
    rows, problems = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((n, json.loads(line)))
        except json.JSONDecodeError as e:
            problems.append(f"{path}:{n}: malformed JSON ({e.msg} at column {e.colno}); line skipped")
    return rows, problems


def _json_array_rows(path: Path, text: str) -> tuple[list[tuple[int, Any]], list[str]]:
    """Decode a top-level JSON list element by element, so each bug keeps the line it starts on."""
    decoder = json.JSONDecoder()
    rows: list[tuple[int, Any]] = []
    i = text.index("[") + 1
    while True:
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == "]":
            return rows, []
        line = text.count("\n", 0, i) + 1
        try:
            obj, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            return rows, [f"{path}:{e.lineno}: malformed JSON ({e.msg}); the {len(rows)} bug(s) before it "
                          "were read, the rest of the file was skipped"]
        rows.append((line, obj))
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == ",":
            i += 1
        elif i >= len(text) or text[i] != "]":
            line = text.count("\n", 0, i) + 1
            return rows, [f"{path}:{line}: malformed JSON (expected ',' or ']'); the rest of the file was skipped"]


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _csv_rows(path: Path, text: str) -> tuple[list[tuple[int, Any]], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error) as e:
        raise BugExportError(f"{path}:1: cannot read the CSV header: {e}") from e
    rows, problems = [], []
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append(f"{path}:{start}: malformed CSV row ({e}); row skipped")
            start = reader.line_num + 1
            continue
        if any(v.strip() for v in values):
            if len(values) != len(header):
                problems.append(f"{path}:{start}: {len(values)} columns where the header has {len(header)}; "
                                "missing columns left empty, extra ones dropped")
            rows.append((start, dict(zip(header, values + [""] * (len(header) - len(values))))))
        start = reader.line_num + 1
    return rows, problems


# -- one record -------------------------------------------------------------------------------------

def _generic_fields(obj: Any) -> dict[str, Any] | str:
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    fields: dict[str, Any] = {"extra": {}}
    for key, value in obj.items():
        name = _ALIASES.get(key.strip().lower(), key.strip().lower()) if isinstance(key, str) else str(key)
        if name in _FIELDS and name not in fields:
            fields[name] = value
        else:
            fields["extra"][key] = value
    return fields


def _github_fields(obj: Any) -> dict[str, Any] | str:
    if not isinstance(obj, dict):
        return f"expected a GitHub issue object, got {type(obj).__name__}"
    if obj.get("pull_request"):  # the issues API lists pull requests too
        return f"#{obj.get('number')} is a pull request, not an issue"
    labels = [lb.get("name", "") if isinstance(lb, dict) else str(lb) for lb in obj.get("labels") or []]
    component = next((m.group(1).strip() for lb in labels if (m := _COMPONENT_LABEL.match(lb))), "")
    severity = next((lb.split(":", 1)[1].strip() for lb in labels if lb.lower().startswith(("severity:", "priority:"))), "")
    comments = obj.get("comments")
    extra = {k: obj[k] for k in ("html_url", "closed_at", "milestone") if obj.get(k)}
    if obj.get("closed_by"):
        extra["closed_by"] = _login(obj["closed_by"])
    return {
        "id": obj.get("number", obj.get("id")),
        "title": obj.get("title"),
        "description": obj.get("body") or "",
        "status": obj.get("state") or "",
        "resolution": obj.get("state_reason") or "",
        "component": component,
        "assignee": _login(obj.get("assignee")),
        "reporter": _login(obj.get("user")),
        "created": obj.get("created_at") or "",
        "updated": obj.get("updated_at") or "",
        "labels": labels,
        "severity": severity,
        "acl": obj.get("acl", obj.get("groups")),
        "comments": [{"author": _login(c.get("user")) or c.get("author", ""),
                      "date": c.get("created_at") or c.get("date", ""),
                      "text": c.get("body") or c.get("text", "")} if isinstance(c, dict) else c
                     for c in comments] if isinstance(comments, list) else [],
        "extra": extra,
    }


def _login(user: Any) -> str:
    if isinstance(user, dict):
        return str(user.get("login") or user.get("name") or "")
    return str(user or "")


def _to_record(path: Path, line: int, fields: dict[str, Any] | str, problems: list[str]) -> BugRecord | None:
    where = f"{path}:{line}"
    if isinstance(fields, str):
        problems.append(f"{where}: {fields}; skipped")
        return None
    missing = [f for f in REQUIRED if _blank(fields.get(f))]
    if missing:
        problems.append(f"{where}: missing required field(s) {', '.join(missing)}; record skipped")
        return None
    bug_id = str(fields["id"]).strip()
    soft = [f for f in RECOMMENDED if _blank(fields.get(f))]
    if soft:
        problems.append(f"{where}: bug {bug_id}: missing field(s) {', '.join(soft)}; imported without them")
    try:
        fields["comments"] = _comments(fields.get("comments"))
        fields["labels"] = _labels(fields.get("labels"))
    except ValueError as e:
        problems.append(f"{where}: bug {bug_id}: {e}; imported without them")
        fields["comments"] = fields["comments"] if isinstance(fields.get("comments"), list) else []
        fields["labels"] = fields["labels"] if isinstance(fields.get("labels"), list) else []
    try:
        fields["acl"] = _labels(fields.get("acl")) or [PUBLIC]
    except ValueError as e:  # an unreadable ACL must not make a bug public
        problems.append(f"{where}: bug {bug_id}: acl/groups field: {e}; record skipped")
        return None
    clean = {k: (v if k in ("comments", "labels", "extra", "acl") else _scalar(v)) for k, v in fields.items()}
    clean["id"] = bug_id
    try:
        return BugRecord.model_validate(clean)
    except ValidationError as e:
        bad = format_validation_error(e)
        problems.append(f"{where}: bug {bug_id}: invalid field ({bad}); record skipped")
        return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # e.g. {"name": "dma"} or {"login": "alice"}
        return _login(value)
    return str(value).strip()


def _comments(value: Any) -> list[BugComment]:
    if _blank(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"comments column looks like JSON but is malformed ({e.msg})") from e
        else:
            return [_comment_from_text(part) for part in text.split(COMMENT_SEPARATOR.strip()) if part.strip()]
    if not isinstance(value, list):
        raise ValueError(f"comments must be a list, got {type(value).__name__}")
    out = []
    for c in value:
        if isinstance(c, dict):
            out.append(BugComment(author=_scalar(c.get("author") or c.get("user") or c.get("login")),
                                  date=_scalar(c.get("date") or c.get("created") or c.get("created_at")),
                                  text=_scalar(c.get("text") or c.get("body") or c.get("comment"))))
        else:
            out.append(_comment_from_text(str(c)))
    return out


def _comment_from_text(text: str) -> BugComment:
    m = _COMMENT_HEAD.match(text.strip())
    if m:
        return BugComment(author=m["author"], date=(m["date"] or "").strip(), text=m["text"].strip())
    return BugComment(text=text.strip())


def _labels(value: Any) -> list[str]:
    if _blank(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
        else:
            return [p.strip() for p in re.split(r"[;,]", text) if p.strip()]
    if not isinstance(value, list):
        raise ValueError(f"labels must be a list, got {type(value).__name__}")
    return [_scalar(v) for v in value if not _blank(v)]
