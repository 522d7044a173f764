"""A careful Tcl command and word splitter that keeps line numbers.

Follows the Tcl rules (the "Dodekalogue"): commands end at newlines or semicolons; words are bare,
"quoted" or {braced}; `[...]` is a nested script; `#` starts a comment only where a command could
start; backslash escapes the next character; `{*}` is the expansion prefix. Bodies of control commands
(proc, if, while, foreach, ...) are braced words, parsed again on demand with :func:`parse_body`, so
line numbers always refer to the original script.

    script = parse_script(open("flow.tcl").read())
    for cmd in script.commands: print(cmd.line, cmd.name, [w.literal for w in cmd.words])

Unbalanced braces, brackets and quotes become :class:`ParseError` entries (with the line where the
unclosed character opened) instead of exceptions, so a checker can report them all.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal

_SPACE = " \t\r\f\v"


@dataclass
class ParseError:
    """A Tcl syntax error at a script line."""

    line: int
    message: str


@dataclass
class Word:
    """One word of a Tcl command as written (bare, braced or quoted), with its command substitutions."""

    text: str  # raw source text, including braces or quotes
    start: int  # offset of the first character in the script
    line: int
    kind: Literal["bare", "braced", "quoted"]
    expand: bool = False  # had the {*} prefix
    substitutions: list["Script"] = field(default_factory=list)  # [command substitutions] inside

    @property
    def literal(self) -> str | None:
        """The word's value when it is known without running the script, else None."""
        if self.kind == "braced":
            return self.text[1:-1]
        inner = self.text[1:-1] if self.kind == "quoted" else self.text
        if any(c in inner for c in "$[\\"):
            return None
        return inner


@dataclass
class Command:
    """One Tcl command: its words and the line it starts on."""

    words: list[Word]
    line: int

    @property
    def name(self) -> str | None:
        """The command's name when it is literal (not built by a substitution), else None."""
        return self.words[0].literal if self.words else None


@dataclass
class Script:
    """A parsed Tcl script: its commands and the syntax errors met on the way."""

    commands: list[Command]
    errors: list[ParseError]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.errors: list[ParseError] = []

    def body(self, word: Word) -> Script:
        """A braced word parsed as a script; its errors are those found in it."""
        if word.kind != "braced":
            return Script([], [])
        before = len(self.errors)
        script, _, _ = self.script(word.start + 1, word.start + len(word.text) - 1, nested=False)
        script.errors = self.errors[before:]
        return script

    def line_of(self, pos: int) -> int:
        """The 1-based line number of character offset `pos`."""
        return bisect.bisect_right(self.line_starts, pos)

    # -- scripts and commands ------------------------------------------------------------------
    def script(self, pos: int, end: int, nested: bool) -> tuple[Script, int, bool]:
        """Parse commands from pos to end; a nested script stops after its closing ']' (closed=True)."""
        commands: list[Command] = []
        errors_before = len(self.errors)
        while pos < end:
            pos = self._skip_command_space(pos, end)
            if pos >= end:
                break
            c = self.text[pos]
            if nested and c == "]":
                return Script(commands, self.errors[errors_before:]), pos + 1, True
            if c == "#":
                pos = self._skip_comment(pos, end)
                continue
            cmd, pos, closed = self._command(pos, end, nested)
            if cmd.words:
                commands.append(cmd)
            if closed:
                return Script(commands, self.errors[errors_before:]), pos, True
        return Script(commands, self.errors[errors_before:]), pos, False

    def _skip_command_space(self, pos: int, end: int) -> int:
        t = self.text
        while pos < end:
            if t[pos] in _SPACE or t[pos] in "\n;":
                pos += 1
            elif t.startswith("\\\n", pos):
                pos += 2
            else:
                break
        return pos

    def _skip_comment(self, pos: int, end: int) -> int:
        t = self.text
        while pos < end and t[pos] != "\n":
            pos += 2 if t[pos] == "\\" else 1
        return min(pos, end)

    def _command(self, pos: int, end: int, nested: bool) -> tuple[Command, int, bool]:
        """Parse one command's words; returns (command, next pos, closed-by-']')."""
        t = self.text
        cmd = Command(words=[], line=self.line_of(pos))
        while pos < end:
            while pos < end and (t[pos] in _SPACE or t.startswith("\\\n", pos)):
                pos += 2 if t[pos] == "\\" else 1
            if pos >= end or t[pos] in "\n;":
                return cmd, pos, False
            if nested and t[pos] == "]":
                return cmd, pos + 1, True
            word, pos = self._word(pos, end, nested)
            if word is None:  # unrecoverable (unclosed brace/quote/bracket): the rest is swallowed
                return cmd, end, False
            cmd.words.append(word)
        return cmd, pos, False

    # -- words ---------------------------------------------------------------------------------
    def _word(self, pos: int, end: int, nested: bool) -> tuple[Word | None, int]:
        t = self.text
        expand = False
        if t.startswith("{*}", pos) and pos + 3 < end and t[pos + 3] not in _SPACE + "\n;":
            expand, pos = True, pos + 3
        start = pos
        if t[pos] == "{":
            close = self._match_brace(pos, end)
            if close is None:
                return None, end
            word = Word(t[start:close + 1], start, self.line_of(start), "braced", expand)
            return word, self._after_close(close + 1, end, nested, "close-brace")
        if t[pos] == '"':
            subs: list[Script] = []
            close = self._scan_until(pos + 1, end, '"', subs)
            if close is None:
                self._error(start, 'missing close-quote: the \'"\' opened here is never closed')
                return None, end
            word = Word(t[start:close + 1], start, self.line_of(start), "quoted", expand, subs)
            return word, self._after_close(close + 1, end, nested, "close-quote")
        subs = []
        stop = self._scan_bare(pos, end, nested, subs)
        if stop is None:
            return None, end
        return Word(t[start:stop], start, self.line_of(start), "bare", expand, subs), stop

    def _after_close(self, pos: int, end: int, nested: bool, what: str) -> int:
        t = self.text
        if pos < end and t[pos] not in _SPACE + "\n;" and not (nested and t[pos] == "]") \
                and not t.startswith("\\\n", pos):
            self._error(pos, f"extra characters after {what}")
            while pos < end and t[pos] not in _SPACE + "\n;":  # skip the rest of the word
                pos += 1
        return pos

    def _scan_bare(self, pos: int, end: int, nested: bool, subs: list[Script]) -> int | None:
        t = self.text
        while pos < end:
            c = t[pos]
            if c in _SPACE or c in "\n;" or (nested and c == "]"):
                return pos
            if c == "\\":
                if t.startswith("\\\n", pos):
                    return pos
                pos += 2
            elif c == "[":
                pos = self._substitution(pos, end, subs)
                if pos is None:
                    return None
            else:
                pos += 1
        return min(pos, end)

    def _scan_until(self, pos: int, end: int, closer: str, subs: list[Script]) -> int | None:
        """Scan a quoted word's body; returns the offset of the closing quote."""
        t = self.text
        while pos < end:
            c = t[pos]
            if c == closer:
                return pos
            if c == "\\":
                pos += 2
            elif c == "[":
                pos = self._substitution(pos, end, subs)
                if pos is None:
                    return None
            else:
                pos += 1
        return None

    def _substitution(self, pos: int, end: int, subs: list[Script]) -> int | None:
        before = len(self.errors)
        inner, nxt, closed = self.script(pos + 1, end, nested=True)
        if not closed:
            if len(self.errors) == before:
                self._error(pos, "missing close-bracket: the '[' opened here is never closed")
            return None
        subs.append(inner)
        return nxt

    def _match_brace(self, pos: int, end: int) -> int | None:
        """Offset of the brace closing the one at pos (nesting, backslash-escapes), or None."""
        t = self.text
        stack = [pos]
        pairs: list[tuple[int, int]] = []
        i = pos + 1
        while i < end:
            c = t[i]
            if c == "\\":
                i += 2
                continue
            if c == "{":
                stack.append(i)
            elif c == "}":
                opened = stack.pop()
                if not stack:
                    return i
                pairs.append((opened, i))
            i += 1
        suspect = self._suspect(pairs)
        if suspect is None:
            self._error(pos, "missing close-brace: the '{' opened here is never closed")
        else:
            self.errors.append(ParseError(suspect, "missing close-brace: judging by indentation, the '{' on this "
                                          f"line is never closed (Tcl sees the one on line {self.line_of(pos)} "
                                          "as unclosed)"))
        return None

    def _suspect(self, pairs: list[tuple[int, int]]) -> int | None:
        """Line of the brace whose closer is indented unlike its opener: usually the one really left open."""
        for opened, closed in sorted(pairs):
            o_line, c_line = self.line_of(opened), self.line_of(closed)
            if o_line == c_line:
                continue
            closer_row = self.text[self.line_starts[c_line - 1]:closed]
            if closer_row.strip():
                continue  # the '}' does not start its line: no indentation evidence
            if _indent(self.text, self.line_starts[o_line - 1]) != len(closer_row):
                return o_line
        return None

    def _error(self, pos: int, message: str) -> None:
        self.errors.append(ParseError(self.line_of(pos), message))


def _indent(text: str, line_start: int) -> int:
    n = 0
    while line_start + n < len(text) and text[line_start + n] in " \t":
        n += 1
    return n


def parse_script(text: str) -> Script:
    """Split a whole Tcl script into commands and words."""
    parser = _Parser(text)
    script, _, _ = parser.script(0, len(text), nested=False)
    script.errors = parser.errors
    return script


def parse_body(text: str, word: Word) -> Script:
    """Parse a braced word of ``text`` (e.g. a proc or loop body) as a script, keeping line numbers."""
    return _Parser(text).body(word)


def body_words(cmd: Command) -> list[Word]:
    """The words of a control command that are scripts run later (proc, loop and branch bodies)."""
    w, name, n = cmd.words, cmd.name, len(cmd.words)
    sub = w[1].literal if n > 1 else None
    if name == "if":
        return _if_bodies(w)
    if name == "for" and n == 5:  # for start test next body
        return [w[1], w[3], w[4]]
    if name in ("catch", "time", "eval") and n > 1:
        return [w[1]]
    if name == "try" and n > 1:  # try body ?on/trap handlers? ?finally body?
        return [w[1]] + [w[i + 1] for i in range(2, n - 1) if w[i].literal == "finally"]
    last_is_body = (
        (name == "proc" and n == 4)
        or (name == "while" and n == 3)
        or (name in ("foreach", "lmap") and n >= 4 and n % 2 == 0)  # foreach var list ?var list ...? body
        or (name == "uplevel" and n > 1)
        or (name == "namespace" and sub == "eval" and n >= 4)
        or (name == "dict" and sub in ("for", "map", "update", "with") and n >= 4)
    )
    return [w[-1]] if last_is_body else []


def _if_bodies(w: list[Word]) -> list[Word]:
    bodies, i = [], 2  # w[1] is the condition
    while i < len(w):
        lit = w[i].literal
        if lit == "then":
            i += 1
            continue
        if lit == "elseif":
            i += 2  # skip the condition
            continue
        if lit == "else":
            i += 1
            continue
        bodies.append(w[i])
        i += 1
    return bodies


def walk(text: str) -> tuple[list[Command], list[ParseError]]:
    """Every command of the script: top level, inside control bodies and inside [substitutions].

    Errors from all levels are returned together, each with its line in ``text``.
    """
    commands, _, errors, _ = _walk(text, data=False)
    return commands, errors


def walk_data(text: str) -> tuple[list[Command], bool]:
    """The commands hidden in braced words that are not bodies: lists, strings, `expr`/`if` conditions,
    `after` and `trace` scripts. Any of them may be run as a script at run time (``set x {exec ls};
    eval $x``), so a safety check looks at them too; their parse errors are ignored (most are data).
    The second value is False when braces nest too deeply to look at every level (each level is parsed
    again, so the work is bounded to a few times the script's length)."""
    _, hidden, _, complete = _walk(text, data=True)
    return hidden, complete


def _walk(text: str, data: bool) -> tuple[list[Command], list[Command], list[ParseError], bool]:
    parser = _Parser(text)  # one parser: its line table is built once, not per body
    top, _, _ = parser.script(0, len(text), nested=False)
    commands: list[Command] = []
    hidden: list[Command] = []
    errors = list(parser.errors)
    pending: list[tuple[Script, bool]] = [(top, False)]
    budget, complete = 8 * len(text) + 10_000, True  # characters re-parsed as data
    while pending:
        script, in_data = pending.pop()
        for cmd in script.commands:
            (hidden if in_data else commands).append(cmd)
            for word in cmd.words:
                pending.extend((sub, in_data) for sub in word.substitutions)
            bodies = body_words(cmd)
            for body in bodies:
                inner = parser.body(body)
                if not in_data:
                    errors.extend(inner.errors)
                pending.append((inner, in_data))
            if data:
                for word in cmd.words:
                    if word.kind == "braced" and all(word is not b for b in bodies):
                        budget -= len(word.text)
                        if budget < 0:
                            complete = False
                            break
                        pending.append((parser.body(word), True))
    commands.sort(key=lambda c: c.line)
    hidden.sort(key=lambda c: c.line)
    errors.sort(key=lambda e: e.line)
    return commands, hidden, errors, complete
