"""Passage windows: each chunk is searched through the short windows it is made of ("small-to-big").

A chunk (a section, an option table, a module) is what the assistant cites and reads, but one vector or one
BM25 row for a whole 1,200-character chunk dilutes the one sentence or table row that answers a question:
on ../shared/corpora the right file but the wrong chunk was the most common miss. So each chunk is split into
windows of about ``IndexConfig.window_chars`` characters along its own lines (a table row, a list item or a
sentence stays whole), every window is embedded and BM25-indexed with the chunk's heading path in front,
and a chunk scores as its best window (max-pooling). Measured on the 80 whole-corpus questions: hybrid
hit@5 0.800 -> 0.838, MRR@10 0.586 -> 0.639 with the default config (bench/README.md, "Passage windows").

Window ``j`` of the chunk with vector id ``vid`` has id ``vid * STRIDE + j`` in FAISS and BM25, so the
parent is ``id // STRIDE`` and no mapping table is needed; a chunk has at most ``STRIDE`` windows (the tail
is merged into the last one). Indexes built before windows existed (manifest format 1) use stride 1.
"""
from __future__ import annotations

import re

import numpy as np

STRIDE = 64
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z`\[(*])")
_STRUCTURED = re.compile(r"^(\||[-*+] |\d+[.)] )")  # table rows and list items: never split inside


def _units(text: str, max_chars: int) -> list[str]:
    """Lines of ``text``; long prose lines split at sentence ends (table rows and list items stay whole)."""
    out: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if len(s) <= max_chars or _STRUCTURED.match(s):
            out.append(s)
        else:
            out.extend(p for p in _SENTENCE.split(s) if p)
    return out


def split(text: str, max_chars: int) -> list[str]:
    """Consecutive units of ``text`` packed greedily into windows of up to ``max_chars`` (0: one window)."""
    if max_chars <= 0:
        return [text]
    windows: list[str] = []
    current = ""
    for unit in _units(text, max_chars):
        if current and len(current) + 1 + len(unit) > max_chars:
            windows.append(current)
            current = unit
        else:
            current = f"{current}\n{unit}" if current else unit
    if current:
        windows.append(current)
    if len(windows) > STRIDE:
        windows[STRIDE - 1:] = ["\n".join(windows[STRIDE - 1:])]
    return windows or [text]


def texts(title: str, text: str, max_chars: int) -> list[str]:
    """What gets embedded / BM25-indexed for one chunk: each window with the heading path in front."""
    return [f"{title}\n{w}" if title else w for w in split(text, max_chars)]


def ids(vid: int, n: int, stride: int = STRIDE) -> np.ndarray:
    """The window ids of a chunk with ``n`` windows."""
    return np.arange(n, dtype=np.int64) + int(vid) * stride


def best_per_chunk(window_ids: np.ndarray, scores: np.ndarray, stride: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool a best-first window ranking into the first ``n`` distinct chunks: (vids, scores), best first."""
    parents = np.asarray(window_ids, dtype=np.int64) // stride
    _, first = np.unique(parents, return_index=True)
    first = np.sort(first)[:n]  # the first occurrence of a chunk is its best window
    return parents[first], np.asarray(scores, dtype=np.float32)[first]
