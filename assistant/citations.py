"""Checks an answer's [n] citations against its sources, on whole texts and on streams alike.

    f = CitationFilter(n_sources=5)
    shown = "".join(f.feed(piece) for piece in llm.stream(messages)) + f.flush()
    f.warnings()   # e.g. ["removed citation [7]: the answer has only 5 sources"]

Citations to numbers that do not exist are removed (the others in the same bracket are kept), so a streamed
answer and a complete one read the same. The filter holds back only a possibly unfinished "[12" (or a trailing
space) at the end of a piece until the next piece shows whether it is a citation. A bracket right after a name or another bracket
(Verilog `data[7]`, `mem[1][2]`) is an index, not a citation, and is left alone. Terminal control characters
in model output are dropped on the way through.
"""
from __future__ import annotations

import re

# One run of adjacent citations: "[1]", "[2, 3]", "[1][4]"; not an index like data[7] or bus[3:0].
CITATION_RUN = re.compile(r"(?<![\w\]\[])((?:\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+)")
NUMBERS = re.compile(r"\d+")
# The end of a piece that a later piece could still turn into (or extend) a citation run: "[1", "[1][2]", "[1]["
OPEN_TAIL = re.compile(r"(?:\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])*(?:\[[\d\s,;]{0,16})?")
INDEX_BEFORE = re.compile(r"[\w\]\[]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CitationFilter:
    """Drops citations to sources that do not exist from an answer, piece by piece as it streams.

    Records which sources were cited and which citations were removed, for ``warnings``."""

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self.cited: set[int] = set()
        self.removed: list[int] = []
        self._held = ""
        self._prev = ""  # the last character emitted: the look-behind context for the next piece

    def feed(self, piece: str) -> str:
        """Text that is safe to show now; a trailing, possibly unfinished citation is held back."""
        text = self._held + CONTROL.sub("", piece)
        self._held = ""
        run = self._open_tail(text)
        if run is None and text.endswith(" "):
            run = len(text) - 1  # a citation may follow this space; removing it would take the space too
        if run is not None:
            self._held = text[run:]
            text = text[:run]
        return self._check(text)

    def _open_tail(self, text: str) -> int | None:
        """Where an unfinished citation run ("[1", "[2][") starts at the end of ``text``, if there is one."""
        start = text.rfind("[")
        if start == -1 or not OPEN_TAIL.fullmatch(text[start:]):  # (an empty tail never reaches here)
            return None
        run = start  # walk back over complete citations right before it, so "[1][" is held as a whole
        while run > 0 and text[run - 1] == "]":
            before = text.rfind("[", 0, run - 1)
            if before == -1 or not OPEN_TAIL.fullmatch(text[before:]):
                break
            run = before
        before_char = text[run - 1] if run else self._prev
        if INDEX_BEFORE.match(before_char):
            return None
        # Hold the space before it too: removing an invalid citation also removes that space.
        return run - 1 if before_char == " " and run else run

    def flush(self) -> str:
        """The held-back tail, checked, at the end of the answer."""
        text, self._held = self._held, ""
        return self._check(text)

    def warnings(self) -> list[str]:
        """What the user should know about the citations: removed ones, or none at all cited."""
        out = []
        if self.removed:
            refs = ", ".join(f"[{n}]" for n in sorted(set(self.removed)))
            out.append(f"removed citation(s) {refs}: the answer has only {self.n_sources} sources")
        if self.n_sources and not self.cited:
            out.append("the answer cites none of its sources; check it against them")
        return out

    def _check(self, text: str) -> str:
        # Match against the last emitted character too, so the look-behind sees what came before this piece.
        context = self._prev + text
        out, pos = [], len(self._prev)
        for m in CITATION_RUN.finditer(context, len(self._prev)):
            out.append(context[pos:m.start()])
            kept = self._keep_valid(m.group(1))
            if not kept and out and out[-1].endswith(" "):
                out[-1] = out[-1][:-1]  # "sees [9]." -> "sees." rather than "sees ."
            out.append(kept)
            pos = m.end()
        out.append(context[pos:])
        result = "".join(out)
        if result:
            self._prev = result[-1]
        return result

    def _keep_valid(self, run: str) -> str:
        numbers = [int(x) for x in NUMBERS.findall(run)]
        valid = [n for n in numbers if 1 <= n <= self.n_sources]
        self.cited.update(valid)
        self.removed.extend(n for n in numbers if not 1 <= n <= self.n_sources)
        if len(valid) == len(numbers):
            return run
        return "".join(f"[{n}]" for n in valid)


def check_citations(text: str, n_sources: int) -> tuple[str, list[str]]:
    """A whole answer with invalid citations removed, and the warnings about them."""
    f = CitationFilter(n_sources)
    out = f.feed(text) + f.flush()
    return out, f.warnings()


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\[])")
_TERMS = re.compile(r"[A-Za-z_][\w.]{2,}")
_STOP = frozenset("the and for that this with from are was were has have its can not you your will when what "
                  "which into also then than there their they them these those use used using each other".split())
MIN_SUPPORT = 0.3  # share of a sentence's content words that must appear in a source to credit it
# ... and at least this many of them: one word in common ("ratio", "reset") is chance, not support. Without it
# "The ratio of flour to water is 1:1." was credited to a floorplan option table for its "-aspect_ratio ratio".
MIN_SHARED = 2
# What starts the block appended to an answer without citations (benchmarks split the model's text off at it).
ATTRIBUTION_HEADING = "\n\nSources by sentence (the model cited none; matched by ChipAssist):\n"


def content_terms(text: str) -> set[str]:
    """The lower-cased content words of ``text``, as attribution (and Q&A's strong-match rule) match them."""
    # a sentence's full stop is not part of its last word ("BAUD_DIV." is BAUD_DIV; "CTRL.EN" keeps its dot)
    return {w.lower().rstrip(".") for w in _TERMS.findall(text)} - _STOP


# The model says the sources do not hold the answer (the system prompt suggests "The sources do not cover
# this."), in its own words; benchmarks count abstentions with it, and Q&A offers the closest passages then.
ABSTENTION = re.compile(
    r"\b(?:sources?|passages?|documents?|documentation|context|provided (?:text|information))\b[^.\n]{0,80}?"
    r"\b(?:do(?:es)?\s*not|don't|doesn't|did not|no)\b[^.\n]{0,40}?"
    r"\b(?:cover|contain|mention|include|provide|say|address|answer|describe|discuss|specify|have)"
    r"|\b(?:is|are|was|were)\s+not\s+(?:covered|mentioned|provided|described|specified|addressed|discussed|"
    r"found|included|available)\b"
    r"|\bno (?:information|mention|details?|relevant)\b"
    r"|\b(?:cannot|can't|can not|unable to)\s+(?:answer|find|determine|provide)\b", re.IGNORECASE)


def attribute(text: str, sources: list[str]) -> tuple[list[tuple[str, int | None]], int]:
    """Each sentence of an answer that cites nothing, paired with the source (1-based) sharing the most of its
    content words, or None when no source shares at least MIN_SUPPORT of them and at least MIN_SHARED (a
    sentence of one content word: that one); and how many have none.

    Small models often answer correctly from the sources but leave out the [n]; this says where each
    sentence comes from (and which sentences come from nowhere) instead of leaving the reader to guess."""
    source_terms = [content_terms(s) for s in sources]
    pairs: list[tuple[str, int | None]] = []
    for sentence in (s.strip() for s in _SENTENCE.split(text)):
        words = content_terms(sentence)
        if not sentence or not words:
            continue
        shared = [len(words & t) for t in source_terms]
        best = max(range(len(shared)), key=shared.__getitem__) if shared else None
        supported = best is not None and shared[best] >= max(MIN_SUPPORT * len(words), min(MIN_SHARED, len(words)))
        pairs.append((sentence, best + 1 if supported else None))
    return pairs, sum(1 for _, n in pairs if n is None)


def attribution_note(text: str, sources: list[str], preview: int = 60) -> tuple[str, str | None]:
    """A block to append to an answer without citations (sentence -> [n]) and a warning, or ("", None)."""
    pairs, unsupported = attribute(text, sources)
    if not pairs:
        return "", None
    rows = []
    for sentence, n in pairs:
        short = sentence if len(sentence) <= preview else sentence[:preview].rsplit(" ", 1)[0] + " …"
        rows.append(f"- “{short}” {f'[{n}]' if n else '(no source found)'}")
    note = ATTRIBUTION_HEADING + "\n".join(rows)
    warning = (f"{unsupported} of {len(pairs)} sentences match no source: check them" if unsupported else None)
    return note, warning
