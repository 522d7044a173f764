"""A deterministic digest of one bug, written without an LLM (the `none` backend's bug summary).

Fields, the status timeline, participants, the last activity, and the files and design units the
thread mentions, all read straight from the record, so every line can be checked against the export.

    text = bug_digest(bug)         # plain text, the `digest` section of a BugSummary
    facts = digest_facts(bug)      # the same facts as data
    line = key_facts(bug)          # the `facts` line shown above a written summary
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from corpora.types import BugRecord

_EXT = r"(?:sv|svh|v|vh|vhd|tcl|sdc|lib|lef|def|log|py|c|h|cc|cpp|hjson|yaml|yml|json|md|txt|vcd|fsdb|gds|spef|rpt|f|xdc|mk|sh)"
_FILE = re.compile(
    rf"""(?:[a-zA-Z][\w+.-]*://[^\s<>"'`)\]]+)              # URL
      | (?<![\w@/])~?/(?:[\w.+-]+/)+[\w.+-]+               # absolute path
      | (?<![\w@/])(?:[\w.+-]+/){{2,}}[\w.+-]+               # relative path, two folders or more
      | (?<![\w@/])(?:[\w.+-]+/)?[\w+-]+(?:\.[\w+-]+)*\.{_EXT}\b  # (folder/)file with a known extension""",
    re.VERBOSE,
)
_UNIT_AFTER_KEYWORD = re.compile(r"\b(?:module|instance|block|unit|submodule|macro|fsm)\s+`?([A-Za-z_][\w.$]*)`?", re.I)
_BACKTICKED = re.compile(r"`([A-Za-z_][\w.$\[\]:]*)`")
_INSTANCE = re.compile(r"\bu_[A-Za-z0-9_]+\b")
_STATES = r"open|new|assigned|triaged|confirmed|in[_ ]progress|blocked|resolved|fixed|closed|verified|reopened|wont[_ ]?fix|duplicate|rejected|done"
_STATUS_CHANGE = re.compile(
    rf"\b(?:status|state)\s*(?:changed\s*|moved\s*|set\s*)?(?:from\s+[\w-]+\s+)?(?:to|->|→|:)\s*\**({_STATES})\b", re.I)
_EVENT = re.compile(r"\b(reopen(?:ed|ing)?|fix(?:ed)? (?:merged|committed|landed|pushed)|root[- ]caused?|"
                    r"wont ?fix|duplicate of \S+|cannot reproduce|can't reproduce)\b", re.I)


@dataclass
class DigestFacts:
    """What the deterministic digest states about a bug: fields, status timeline, participants, last
    activity, and the files and design units its thread mentions."""

    fields: dict[str, str]
    timeline: list[tuple[str, str]]  # (date, event)
    participants: list[tuple[str, str]]  # (name, roles and activity)
    last_activity: str
    files: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)


def digest_facts(bug: BugRecord) -> DigestFacts:
    """The digest's facts about ``bug``, read from its fields and thread (no model involved)."""
    texts = [bug.title, bug.description] + [c.text for c in bug.comments]
    return DigestFacts(fields=_fields(bug), timeline=status_timeline(bug), participants=participants(bug),
                       last_activity=last_activity(bug), files=mentioned_files(texts),
                       units=mentioned_units(texts, bug.component))


def bug_digest(bug: BugRecord) -> str:
    """The digest as plain text with one heading per part."""
    facts = digest_facts(bug)
    lines = [f"Bug {bug.id}: {bug.title}", "", "Fields:"]
    lines += [f"  {k}: {v}" for k, v in facts.fields.items()]
    lines += ["", "Status timeline:"] + [f"  {d or '(no date)'}  {e}" for d, e in facts.timeline]
    lines += ["", "Participants:"] + [f"  {name}: {what}" for name, what in facts.participants]
    lines += ["", f"Last activity: {facts.last_activity}"]
    lines += ["", "Files mentioned: " + (", ".join(facts.files) or "none")]
    lines += ["Units mentioned: " + (", ".join(facts.units) or "none")]
    return "\n".join(lines)


def key_facts(bug: BugRecord) -> str:
    """One line of the record's own key facts (id, title, status, component, owner, severity).

    Shown above an LLM-written summary so that what a small model may drop or garble (the id, the
    component, who owns it) is always there, read straight from the export."""
    parts = [f"{bug.id}: {bug.title}"]
    parts += [f"{name}: {value}" for name, value in (("status", bug.status), ("component", bug.component),
                                                      ("owner", bug.assignee), ("severity", bug.severity)) if value]
    return " · ".join(parts)


def _fields(bug: BugRecord) -> dict[str, str]:
    pairs = [("status", bug.status), ("component", bug.component), ("assignee", bug.assignee),
             ("reporter", bug.reporter), ("severity", bug.severity), ("resolution", bug.resolution),
             ("labels", ", ".join(bug.labels)), ("created", bug.created), ("updated", bug.updated),
             ("comments", str(len(bug.comments)))]
    return {k: v for k, v in pairs if v}


def status_timeline(bug: BugRecord) -> list[tuple[str, str]]:
    """Opened, every recorded or commented status change, and the current status, in date order."""
    events: list[tuple[str, str]] = []
    if bug.created or bug.reporter:
        events.append((bug.created, f"opened by {bug.reporter}" if bug.reporter else "opened"))
    for h in bug.extra.get("history") or []:
        if isinstance(h, dict):
            change = f"{h.get('field', 'status')}: {h.get('from', '?')} -> {h.get('to', '?')}"
            events.append((str(h.get("date", "")), change + (f" by {h['author']}" if h.get("author") else "")))
    for c in bug.comments:
        for m in _STATUS_CHANGE.finditer(c.text):
            state = m.group(1).lower().replace(" ", "_")
            events.append((c.date, f"status -> {state}" + (f" ({c.author})" if c.author else "")))
        for m in _EVENT.finditer(c.text):
            events.append((c.date, m.group(1).lower() + (f" ({c.author})" if c.author else "")))
    # stable sort keeps the thread order for events without a date (they sort first)
    events.sort(key=lambda e: e[0])
    if bug.status:  # always last: it is where the thread stands now
        events.append((bug.updated, f"current status: {bug.status}" + (f" ({bug.resolution})" if bug.resolution else "")))
    return events


def participants(bug: BugRecord) -> list[tuple[str, str]]:
    """Everyone in the thread with their roles and comment counts, in order of first appearance."""
    counts = Counter(c.author for c in bug.comments if c.author)
    last = {c.author: c.date for c in bug.comments if c.author and c.date}
    order = [n for n in [bug.reporter, bug.assignee] + [c.author for c in bug.comments] if n]
    out = []
    for name in dict.fromkeys(order):
        roles = [r for r, who in (("reporter", bug.reporter), ("assignee", bug.assignee)) if who == name]
        if counts[name]:
            roles.append(f"{counts[name]} comment{'s' if counts[name] > 1 else ''}"
                         + (f", last {last[name]}" if name in last else ""))
        out.append((name, "; ".join(roles)))
    return out


def last_activity(bug: BugRecord) -> str:
    """The latest comment (by date, else the last one) with who wrote it, or the last update."""
    if bug.comments:
        dated = [c for c in bug.comments if c.date]
        c = max(dated, key=lambda c: c.date) if dated else bug.comments[-1]
        text = " ".join(c.text.split())
        snippet = text if len(text) <= 200 else text[:197] + "..."
        return f"{c.date or '(no date)'} by {c.author or 'unknown'}: {snippet}"
    return f"{bug.updated or bug.created or '(no date)'}: no comments"


def mentioned_files(texts: list[str]) -> list[str]:
    """File paths, file names with a design/tool extension, and URLs, in order of first mention."""
    found = (m.group(0).rstrip(".,;:)") for t in texts for m in _FILE.finditer(t or ""))
    return list(dict.fromkeys(f for f in found if "/" in f or "." in f))


def mentioned_units(texts: list[str], component: str = "") -> list[str]:
    """Design units: named modules/instances/blocks, `backticked` identifiers, u_* instances, <component>_* names."""
    comp = component.strip().lower()
    own = re.compile(rf"(?<![/\w])\b{re.escape(comp)}_[A-Za-z0-9_]+\b(?![./\w])", re.I) if comp else None
    units: list[str] = []
    for t in texts:
        t = t or ""
        units += [m.group(1) for m in _UNIT_AFTER_KEYWORD.finditer(t) if _looks_like_identifier(m.group(1))]
        units += [m.group(1) for m in _BACKTICKED.finditer(t) if not _looks_like_file(m.group(1))]
        units += _INSTANCE.findall(t)
        if own:
            units += [m.group(0) for m in own.finditer(t) if not _looks_like_file(m.group(0))]
    return list(dict.fromkeys(u for u in units if len(u) > 1))


def _looks_like_identifier(name: str) -> bool:
    """A design name (dma_ctrl, SOFT_RST, u_dma0), not an English word after "module"/"block"/..."""
    return "_" in name or any(ch.isdigit() for ch in name) or (name.isupper() and len(name) >= 3)


def _looks_like_file(name: str) -> bool:
    return bool(re.search(rf"\.{_EXT}$", name))
