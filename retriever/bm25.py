"""Lexical search over chunks with bm25s and a code-aware tokenizer.

Engineers search for identifiers: ``global_placement``, ``-pad_left``, ``CTRL.EN``, ``uartTxFifo``. A plain
word tokenizer splits them and loses the exact match; a whitespace one never matches their parts. So
``tokenize`` keeps each compound identifier whole AND emits its parts (split at ``_ . - :`` and camelCase),
lower-cased, English stop words dropped. The index is saved with the rest of the index generation and
loaded once per ``Index.open``.
"""
from __future__ import annotations

import re
from pathlib import Path

import bm25s
import numpy as np

# A compound: an optional leading dash (Tcl options), then word characters joined by . _ - : / (single).
_COMPOUND = re.compile(r"-{0,2}[A-Za-z0-9_]+(?:[.:\-/][A-Za-z0-9_]+)*")
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from has have how i if in into is it its of on or that the "
    "their then there these this to was what when where which who why will with you your".split())


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens: each compound identifier whole (leading dash kept) plus its parts."""
    tokens: list[str] = []
    for m in _COMPOUND.finditer(text):
        word = m.group(0)
        bare = word.lstrip("-")
        parts = [p.lower() for p in _PART.findall(bare)]
        whole = word.lower()
        if whole not in _STOP:
            tokens.append(whole)
        if bare != word:
            tokens.append(bare.lower())  # "-pad_left" also matches "pad_left"
        if len(parts) > 1 or (parts and parts[0] != bare.lower()):
            tokens.extend(p for p in parts if p not in _STOP and len(p) > 1 or p.isdigit())
    return tokens


class BM25Index:
    """A bm25s index whose rows line up with ``ids`` (the chunks' vector ids)."""

    def __init__(self, model: bm25s.BM25, ids: np.ndarray) -> None:
        self.model = model
        self.ids = ids

    @classmethod
    def build(cls, ids: list[int], texts: list[str], *, k1: float = 1.5, b: float = 0.75) -> "BM25Index":
        """A BM25 index over ``texts`` whose results are the matching ``ids``."""
        model = bm25s.BM25(k1=k1, b=b)
        model.index([tokenize(t) or [""] for t in texts] or [[""]], show_progress=False)
        return cls(model, np.asarray(ids, dtype=np.int64))

    def save(self, folder: Path) -> None:
        """Write the BM25 model and its ids into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(str(folder), show_progress=False)
        np.save(folder / "ids.npy", self.ids)

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        """Load the BM25 index ``save`` wrote into ``folder``."""
        model = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
        return cls(model, np.load(folder / "ids.npy"))

    def search(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` (ids, scores) by BM25, best first; only documents sharing a token with the query."""
        vocab = self.model.vocab_dict
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens or not len(self.ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.model.get_scores(tokens)
        n = min(n, int(np.count_nonzero(scores > 0)))
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return self.ids[top], scores[top].astype(np.float32)
