"""Key facts for the generation benchmarks: which terms of a reference text an answer must repeat to count.

    terms = key_terms("Set target density. The default value is `0.7`", exclude="what density by default?")
    # -> ["0.7"]
    has_fact("The default target density is 0.7 [1].", terms)   # -> True

The rule, fixed before any model output was read and never tuned on the reported questions (it was checked
only on the sample corpus's own questions, corpora/sample/eval/queries.jsonl):

1. The reference is split into tokens. A token is *specific* when it looks like a name or a value: it has a
   digit, an underscore, a dot or colon inside (``dma.v``, ``CTRL.EN``, ``0.7``), starts with ``-`` (an
   option), has two or more capitals (``DONE``, ``RUDY``) or a lower-to-upper case change (``camelCase``).
   Other tokens are *words*; a word counts when it has 4+ letters and is not a stop word.
2. Tokens that also occur in ``exclude`` (the question, or facts scored on their own such as a bug's ID)
   are dropped: repeating the question's words is no evidence of the answer.
3. The key terms are the specific tokens left, or, when there are none, the words left; in text order,
   without repeats, at most ``MAX_TERMS`` (the first ones).
4. An answer has the fact when it contains at least half of the key terms (rounded up): specific tokens as
   whole tokens, words as whole words with a plural "s" either way; case-insensitive, whitespace collapsed,
   backticks and backslashes ignored and citations ``[n]`` removed first (their numbers are not values). No key terms (the reference only repeats the question): the fact is undefined (None).
"""
from __future__ import annotations

import math
import re

from assistant.citations import CITATION_RUN
from retriever.evaluate import normalize

MAX_TERMS = 5
_TOKEN = re.compile(r"-{0,2}[A-Za-z0-9_$\\][\w.:/$\\\[\]-]*")
_STOP = frozenset("""
a about above after again against all also an and any are as at be because been before being below between both
but by can cannot could did do does doing down during each few for from further had has have having here how if in
into is it its itself just more most must no nor not now of off on once only or other our out over own same should
so some such than that the their them then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours default value values option options
command commands used using uses use sets setting given gives give based following note example like make makes
""".split())


def _clean(token: str) -> str:
    token = token.replace("\\", "").strip("`'\".,;:()").rstrip("-")  # escapes (Tcl \$, Verilog \name) dropped
    while token.endswith("]") and token.count("[") < token.count("]"):
        token = token[:-1]
    return token.lstrip("[")


def _specific(token: str) -> bool:
    inner = token[1:-1]
    return (any(c.isdigit() for c in token) or "_" in token or "." in inner or ":" in inner or "/" in inner
            or token.startswith("-") or sum(c.isupper() for c in token) >= 2
            or bool(re.search(r"[a-z][A-Z]", token)))


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` with surrounding punctuation and backticks removed."""
    return [t for t in (_clean(m.group(0)) for m in _TOKEN.finditer(text.replace("`", " "))) if t]


def key_terms(reference: str, exclude: str = "", max_terms: int = MAX_TERMS) -> list[str]:
    """The key terms of ``reference`` not already in ``exclude`` (rules 1-3 of the module docstring)."""
    seen = {t.lower() for t in tokens(exclude)}
    seen |= {w.rstrip("s") for w in seen}
    specific, words = [], []
    for t in tokens(reference):
        low = t.lower()
        if low in seen or low.rstrip("s") in seen:
            continue
        if _specific(t):
            specific.append(t)
        elif t.isalpha() and len(t) >= 4 and low not in _STOP:
            words.append(low)
    chosen = specific or words
    return list(dict.fromkeys(chosen))[:max_terms]


def _flat(text: str) -> str:
    """``text`` as facts are looked up in: citations [n] removed (their numbers are not values), backticks
    dropped, lower case, whitespace collapsed."""
    return normalize(CITATION_RUN.sub(" ", text).replace("`", "").replace("\\", ""))


def term_found(term: str, text: str) -> bool:
    """Whether one key term occurs in ``text`` as a whole token (rule 4)."""
    low = term.lower()
    pattern = re.escape(low) if _specific(term) else re.escape(low.rstrip("s")) + "s?"
    return re.search(rf"(?<![A-Za-z0-9_]){pattern}(?![A-Za-z0-9_])", _flat(text)) is not None


def has_fact(text: str, terms: list[str]) -> bool | None:
    """True when ``text`` holds at least half of ``terms`` (rounded up); None when ``terms`` is empty."""
    if not terms:
        return None
    found = sum(term_found(t, text) for t in terms)
    return found >= math.ceil(len(terms) / 2)
