"""Exact (content hash) and near-duplicate (MinHash-LSH over word 5-shingles, datasketch) removal.

The first document seen (in sorted path order) is kept; later copies are reported as duplicates of it,
so the result does not depend on file-system order.
"""
from __future__ import annotations

import re

from datasketch import MinHash, MinHashLSH

_WORD = re.compile(r"\w+")


class Deduplicator:
    def __init__(self, threshold: float = 0.9, num_perm: int = 64, shingle: int = 5, min_chars: int = 300) -> None:
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.num_perm, self.shingle, self.min_chars = num_perm, shingle, min_chars
        self.hashes: dict[str, str] = {}

    def _minhash(self, text: str) -> MinHash:
        words = _WORD.findall(text.lower())
        m = MinHash(num_perm=self.num_perm)
        grams = {" ".join(words[i:i + self.shingle]) for i in range(max(1, len(words) - self.shingle + 1))}
        m.update_batch([g.encode() for g in grams])
        return m

    def check(self, key: str, content_hash: str, text: str, near: bool = True) -> tuple[str, str] | None:
        """Register a document; returns ("exact"|"near", key of the kept original) if it is a duplicate."""
        if content_hash in self.hashes:
            return "exact", self.hashes[content_hash]
        self.hashes[content_hash] = key
        if not near or len(text) < self.min_chars:
            return None  # tiny files (stubs, one-line configs) are too alike to judge by shingles
        m = self._minhash(text)
        found = self.lsh.query(m)
        if found:
            return "near", sorted(found)[0]
        self.lsh.insert(key, m)
        return None
