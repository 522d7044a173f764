"""Exact (content hash) and near-duplicate (MinHash-LSH over word 5-shingles, datasketch) removal.

The first document seen (in sorted path order) is kept; later copies are reported as duplicates of it,
so the result does not depend on file-system order.

Documents are compared only within a ``scope`` (ingest passes the ACL): a copy whose visibility differs from
the kept one is never dropped as its duplicate, so removing duplicates never changes who can read a text
(a public copy of a restricted file stays public, and the restricted original stays, restricted).
"""
from __future__ import annotations

import re

from collections.abc import Hashable

from datasketch import MinHash, MinHashLSH

_WORD = re.compile(r"\w+")


class Deduplicator:
    def __init__(self, threshold: float = 0.9, num_perm: int = 64, shingle: int = 5, min_chars: int = 300) -> None:
        self.threshold = threshold
        self.num_perm, self.shingle, self.min_chars = num_perm, shingle, min_chars
        self.hashes: dict[tuple[Hashable, str], str] = {}
        self._lsh: dict[Hashable, MinHashLSH] = {}

    def _minhash(self, text: str) -> MinHash:
        words = _WORD.findall(text.lower())
        m = MinHash(num_perm=self.num_perm)
        grams = {" ".join(words[i:i + self.shingle]) for i in range(max(1, len(words) - self.shingle + 1))}
        m.update_batch([g.encode() for g in grams])
        return m

    def check(self, key: str, content_hash: str, text: str, near: bool = True,
              scope: Hashable = "") -> tuple[str, str] | None:
        """Register a document; returns ("exact"|"near", key of the kept original) if it is a duplicate of a
        document registered earlier in the same ``scope`` (documents of different scopes are never compared)."""
        if (scope, content_hash) in self.hashes:
            return "exact", self.hashes[(scope, content_hash)]
        self.hashes[(scope, content_hash)] = key
        if not near or len(text) < self.min_chars:
            return None  # tiny files (stubs, one-line configs) are too alike to judge by shingles
        m = self._minhash(text)
        lsh = self._lsh.setdefault(scope, MinHashLSH(threshold=self.threshold, num_perm=self.num_perm))
        found = lsh.query(m)
        if found:
            return "near", sorted(found)[0]
        lsh.insert(key, m)
        return None
