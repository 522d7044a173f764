"""The one near-duplicate detector (MinHash-LSH, datasketch) and exact-duplicate removal, for every stage.

- `shingles` / `similarity`: word n-gram sets and their Jaccard similarity, for comparing two given texts
  (gen-pairs: is a candidate negative a copy of the positive?).
- `NearDuplicates`: an index of texts seen so far that finds an earlier one at Jaccard >= threshold without
  comparing every pair (MinHash-LSH proposes candidates; with ``exact=True`` the exact Jaccard of the shingle
  sets decides, for short texts such as gen-data's questions; otherwise the LSH answer stands, which keeps
  memory at ``num_perm`` integers a text for whole corpora).
- `Deduplicator`: ingestion's exact (content hash) + near (word 5-shingles) removal.

The first document seen (in sorted path order) is kept; later copies are reported as duplicates of it,
so the result does not depend on file-system order.

Documents are compared only within a ``scope`` (ingest passes the ACL): a copy whose visibility differs from
the kept one is never dropped as its duplicate, so removing duplicates never changes who can read a text
(a public copy of a restricted file stays public, and the restricted original stays, restricted).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Hashable

from datasketch import MinHash, MinHashLSH

_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 5) -> set[str]:
    """The word n-grams of ``text`` (lower-cased ``\\w+`` words); a text shorter than ``n`` words is one gram."""
    words = _WORD.findall(text.lower())
    return {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b|, 0.0 when either set is empty."""
    return len(a & b) / len(a | b) if a and b else 0.0


def similarity(a: str, b: str, n: int = 5) -> float:
    """Jaccard similarity of the word n-gram shingles of two texts (1.0: the same words in the same order)."""
    return jaccard(shingles(a, n), shingles(b, n))


class NearDuplicates:
    """Texts seen so far, searchable for one at word-shingle Jaccard >= ``threshold`` (per ``scope``).

    Args:
        threshold: the similarity that makes two texts duplicates.
        shingle: words per shingle (1: word sets, for short questions; 5: for documents).
        num_perm: MinHash permutations (more: a sharper LSH estimate, more memory).
        exact: keep each text's shingles and confirm LSH candidates by exact Jaccard; the LSH then runs
            below the threshold (``threshold - recall_margin``) so that it misses fewer true duplicates.
        recall_margin: how far below ``threshold`` the LSH proposes candidates when ``exact``.
    """

    def __init__(self, threshold: float = 0.9, *, shingle: int = 5, num_perm: int = 64, exact: bool = False,
                 recall_margin: float = 0.2) -> None:
        self.threshold, self.shingle, self.num_perm, self.exact = threshold, shingle, num_perm, exact
        # datasketch needs a threshold in (0, 1); the false-negative-heavy weighting suits a recall-first LSH
        self._lsh_args = (dict(threshold=max(0.5, threshold - recall_margin), weights=(0.2, 0.8)) if exact
                          else dict(threshold=threshold))
        self._lsh: dict[Hashable, MinHashLSH] = {}
        self._grams: dict[Hashable, set[str]] = {}

    def _minhash(self, grams: set[str]) -> MinHash:
        m = MinHash(num_perm=self.num_perm)
        m.update_batch([g.encode() for g in grams])
        return m

    def find(self, text: str, *, scope: Hashable = "",
             accept: Callable[[Hashable], bool] | None = None) -> Hashable | None:
        """The key of an earlier text of ``scope`` that ``text`` nearly duplicates (the smallest key when
        several do), or None. ``accept(key)`` may veto a candidate (e.g. gen-data: different names)."""
        lsh = self._lsh.get(scope)
        if lsh is None:
            return None
        grams = shingles(text, self.shingle)
        found = sorted(lsh.query(self._minhash(grams)), key=str)
        for key in found:
            if self.exact and jaccard(grams, self._grams[key]) < self.threshold:
                continue
            if accept is None or accept(key):
                return key
        return None

    def add(self, key: Hashable, text: str, *, scope: Hashable = "") -> None:
        """Remember ``text`` under ``key`` (unique across scopes) for later `find` calls."""
        grams = shingles(text, self.shingle)
        lsh = self._lsh.setdefault(scope, MinHashLSH(num_perm=self.num_perm, **self._lsh_args))
        lsh.insert(key, self._minhash(grams))
        if self.exact:
            self._grams[key] = grams


class Deduplicator:
    """Ingestion's duplicate check: the same content hash, or (long texts) a near-duplicate by `NearDuplicates`."""

    def __init__(self, threshold: float = 0.9, num_perm: int = 64, shingle: int = 5, min_chars: int = 300) -> None:
        self.threshold, self.min_chars = threshold, min_chars
        self.hashes: dict[tuple[Hashable, str], str] = {}
        self.near = NearDuplicates(threshold, shingle=shingle, num_perm=num_perm)

    def check(self, key: str, content_hash: str, text: str, near: bool = True,
              scope: Hashable = "") -> tuple[str, str] | None:
        """Register a document; returns ("exact"|"near", key of the kept original) if it is a duplicate of a
        document registered earlier in the same ``scope`` (documents of different scopes are never compared)."""
        if (scope, content_hash) in self.hashes:
            return "exact", self.hashes[(scope, content_hash)]
        self.hashes[(scope, content_hash)] = key
        if not near or len(text) < self.min_chars:
            return None  # tiny files (stubs, one-line configs) are too alike to judge by shingles
        original = self.near.find(text, scope=scope)
        if original is not None:
            return "near", original
        self.near.add(key, text, scope=scope)
        return None
