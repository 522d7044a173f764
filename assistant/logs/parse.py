"""Find the errors and warnings in an EDA tool log and group their repeats.

    from assistant.logs.parse import parse_log
    parsed = parse_log(open("yosys.log").read())
    parsed.tool                    # "yosys" | "openroad" | "unknown"
    for issue in parsed.issues:    # errors first, then warnings; each group once, in order of first line
        issue.severity, issue.id, issue.message, issue.count, issue.first_line

Recognised lines:
- OpenROAD / OpenSTA: ``[ERROR GRT-0119] Routing congestion too high.``, ``[WARNING STA-0337] ...``,
  ``[CRITICAL ...]`` (INFO lines are not issues);
- bracketed IDs of other tools: ``ERROR: [Synth 8-439] module 'foo' not found``, Verilator ``%Error-WIDTH: ...``;
- yosys: ``ERROR: ...`` and ``Warning: ...``, also after a ``file.v:12:`` location;
- anything else: a line that starts with ``Error:``, ``Warning:``, ``Fatal:`` or ``Critical:`` (any case).

A message with an ID groups by (severity, ID); one without groups by its text with numbers and quoted
names masked, so "Identifier `\\a' is implicitly declared" and "... `\\b' ..." count as one message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LINE_CHARS = 400  # a message is shown and searched for; a longer line is cut
MAX_LINES_KEPT = 10  # line numbers kept per group (the count says how many there were)
MAX_EXAMPLES = 3  # distinct messages kept per group

_BRACKET = re.compile(r"^\s*\[(?P<sev>ERROR|WARNING|CRITICAL|FATAL)\s+(?P<id>[A-Z][A-Z0-9]{1,7}-\d{1,5})\]\s*(?P<msg>.*)")
_VENDOR = re.compile(r"^\s*(?P<sev>ERROR|CRITICAL WARNING|WARNING|FATAL)\s*:\s*\[(?P<id>[A-Za-z][\w ]{0,30}\d+-\d+)\]\s*"
                     r"(?P<msg>.*)")
_VERILATOR = re.compile(r"^\s*%(?P<sev>Error|Warning)(?:-(?P<id>[A-Z][A-Z0-9_]+))?:\s*(?P<msg>.*)")
# yosys prints "ERROR: ..." / "Warning: ..." at the start of a line or after "file.v:12: "
_YOSYS = re.compile(r"^(?:(?P<loc>[^\s:]+:\d+(?:\.\d+(?:-\d+\.\d+)?)?):\s*)?(?P<sev>ERROR|Warning):\s*(?P<msg>.*)")
_GENERIC = re.compile(r"^\s*(?P<sev>error|warning|fatal|critical)\s*:\s*(?P<msg>.+)", re.I)
_MASKS = (
    (re.compile(r"`[^'`]*'|'[^']*'|\"[^\"]*\"|`[^`]*`"), "'…'"),  # quoted names: `\foo', 'clk', "x"
    (re.compile(r"(?<![\w-])\\\S+"), "\\…"),  # yosys escaped identifiers
    (re.compile(r"\d+(?:\.\d+)?"), "N"),  # counts, coordinates, widths, line numbers
)
_TOOLS = (("openroad", re.compile(r"OpenROAD|\[(?:INFO|WARNING|ERROR) (?:ORD|ODB|IFP|GPL|DPL|GRT|DRT|STA|PPL|CTS|RSZ)-\d")),
          ("yosys", re.compile(r"Yosys Open SYnthesis Suite|^yosys> |^-- Running command|^\d+(?:\.\d+)*\. Executing ",
                               re.M)))


@dataclass
class LogIssue:
    """One error or warning message and its repeats in the log."""

    severity: str  # "error" | "warning"
    id: str  # "GRT-0119", "Synth 8-439", "WIDTH"; "" when the tool gives none
    message: str  # the first occurrence's text (after the severity and ID)
    count: int = 1
    first_line: int = 0  # 1-based
    lines: list[int] = field(default_factory=list)  # the first MAX_LINES_KEPT line numbers
    examples: list[str] = field(default_factory=list)  # up to MAX_EXAMPLES distinct messages
    location: str = ""  # a source location the tool gave (yosys "warn.v:3"), first occurrence

    @property
    def label(self) -> str:
        """``ERROR GRT-0119`` / ``Warning`` as the tool would print its prefix."""
        return f"{self.severity.upper()} {self.id}".strip()


@dataclass
class ParsedLog:
    """What :func:`parse_log` found: the tool, the number of lines read, the grouped issues."""

    tool: str
    lines: int
    issues: list[LogIssue]

    @property
    def errors(self) -> int:
        """Error lines (repeats counted)."""
        return sum(i.count for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> int:
        """Warning lines (repeats counted)."""
        return sum(i.count for i in self.issues if i.severity == "warning")


def detect_tool(text: str) -> str:
    """The tool that wrote the log, from its banner and message prefixes: yosys, openroad or unknown."""
    head = text[:200_000]
    return next((tool for tool, pattern in _TOOLS if pattern.search(head)), "unknown")


def _severity(word: str) -> str:
    return "warning" if word.lower() == "warning" else "error"  # critical/fatal/critical warning stop a flow


def _match(line: str) -> tuple[str, str, str, str] | None:
    """(severity, id, message, location) of an issue line, None for any other line."""
    for pattern in (_BRACKET, _VENDOR, _VERILATOR):
        m = pattern.match(line)
        if m:
            sev = "warning" if m.group("sev").upper() == "WARNING" else _severity(m.group("sev"))
            return sev, m.group("id") or "", m.group("msg").strip(), ""
    m = _YOSYS.match(line)
    if m:
        return _severity(m.group("sev")), "", m.group("msg").strip(), m.group("loc") or ""
    m = _GENERIC.match(line)
    if m:
        return _severity(m.group("sev")), "", m.group("msg").strip(), ""
    return None


def normalise(message: str) -> str:
    """The message with quoted names and numbers masked: the key that groups repeats without an ID."""
    for pattern, repl in _MASKS:
        message = pattern.sub(repl, message)
    return " ".join(message.split()).lower()


def parse_log(text: str) -> ParsedLog:
    """Errors and warnings of ``text`` grouped by ID (or masked text); errors first, each in order of its
    first line."""
    groups: dict[tuple[str, str], LogIssue] = {}
    n = 0
    for n, raw in enumerate(text.splitlines(), 1):
        found = _match(raw[:MAX_LINE_CHARS * 2])
        if found is None:
            continue
        severity, ident, message, location = found
        message = message[:MAX_LINE_CHARS]
        key = (severity, ident or normalise(message))
        issue = groups.get(key)
        if issue is None:
            groups[key] = LogIssue(severity, ident, message, first_line=n, lines=[n], examples=[message],
                                   location=location)
            continue
        issue.count += 1
        if len(issue.lines) < MAX_LINES_KEPT:
            issue.lines.append(n)
        if len(issue.examples) < MAX_EXAMPLES and message not in issue.examples:
            issue.examples.append(message)
    issues = sorted(groups.values(), key=lambda i: (i.severity != "error", i.first_line))
    return ParsedLog(tool=detect_tool(text), lines=n, issues=issues)
