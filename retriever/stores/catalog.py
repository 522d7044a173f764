"""What a vector store knows besides its vectors: which document owns each vector id, and who may see it.

Every ``VectorStore`` keeps one ``Catalog`` so that it can delete by document and apply the caller's groups
inside the store (``corpora.types.visible``, the one access rule). The ACL is per document: a document's
chunks all carry its groups (``corpora.chunking``). The catalog is saved next to the vectors as
``vectors-catalog.npz`` (``CATALOG``) in every index generation; generations written before it existed
(manifest format < 3) get theirs from ``store.sqlite`` (``Catalog.from_rows``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from corpora.types import visible

CATALOG = "vectors-catalog.npz"
_NO_IDS = np.zeros(0, dtype=np.int64)


class Catalog:
    """document -> (vector ids, ACL groups), with the set of ids each group set may see (cached)."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
        self._owner: dict[int, str] = {}
        self._allowed: dict[frozenset[str], np.ndarray | None] = {}

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, Sequence[str], np.ndarray]]) -> "Catalog":
        """A catalog of (document, acl, ids) rows (e.g. ``retriever.store.Store.document_ids``)."""
        cat = cls()
        for document, acl, ids in rows:
            cat.add(document, ids, acl)
        return cat

    def __len__(self) -> int:
        return len(self._owner)

    def __contains__(self, document: str) -> bool:
        return document in self._docs

    def documents(self) -> list[str]:
        """The documents in the catalog, in insertion order."""
        return list(self._docs)

    def ids(self, document: str) -> np.ndarray:
        """The vector ids of ``document`` (empty when it is not in the store)."""
        return self._docs.get(document, (_NO_IDS, ()))[0]

    def acl(self, document: str) -> tuple[str, ...]:
        """``document``'s groups (KeyError when it is not in the catalog)."""
        return self._docs[document][1]

    def add(self, document: str, ids: np.ndarray, acl: Sequence[str]) -> None:
        """Record a new document's ids; an id or document already present is an error (delete it first)."""
        if not isinstance(document, str) or not document:
            raise ValueError(f"document: a non-empty source string is required, got {document!r}")
        if isinstance(acl, str):
            raise ValueError(f"acl: a list of groups is required, got the string {acl!r}")
        if document in self._docs:
            raise ValueError(f"document {document!r} is already in the vector store; delete it before adding it again")
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"ids: document {document!r} repeats a vector id")
        taken = [int(i) for i in ids.tolist() if int(i) in self._owner]
        if taken:
            raise ValueError(f"ids: {taken[:5]} already belong to document {self._owner[taken[0]]!r}")
        if (ids < 0).any():
            raise ValueError(f"ids: vector ids must be >= 0 (document {document!r})")
        self._docs[document] = (ids, tuple(sorted(set(acl))))
        self._owner.update(dict.fromkeys(ids.tolist(), document))
        self._allowed.clear()

    def delete(self, document: str) -> np.ndarray:
        """Forget ``document``; returns its ids (empty when it was not in the store)."""
        ids, _ = self._docs.pop(document, (_NO_IDS, ()))
        for i in ids.tolist():
            self._owner.pop(i, None)
        self._allowed.clear()
        return ids

    def set_acl(self, document: str, acl: Sequence[str]) -> None:
        """Give ``document``'s vectors new groups (a manifest changed; the vectors did not)."""
        if document not in self._docs:
            raise KeyError(f"document {document!r} is not in the vector store")
        self._docs[document] = (self._docs[document][0], tuple(sorted(set(acl))))
        self._allowed.clear()

    def allowed(self, groups: Iterable[str] | str | None) -> np.ndarray | None:
        """Sorted ids a caller in ``groups`` may see, or None when every id is visible (no filter needed)."""
        key = frozenset([groups] if isinstance(groups, str) else (groups or ()))
        if key not in self._allowed:
            hidden = [d for d, (_, acl) in self._docs.items() if not visible(acl, key)]
            if not hidden:
                self._allowed[key] = None
            else:
                parts = [ids for ids, acl in self._docs.values() if visible(acl, key)]
                self._allowed[key] = np.sort(np.concatenate(parts)) if parts else _NO_IDS
            if len(self._allowed) > 64:  # one entry per distinct group set; bound it for many callers
                self._allowed.pop(next(iter(self._allowed)))
        return self._allowed[key]

    def save(self, fh) -> None:
        """Write the catalog to an open binary file (``np.savez``)."""
        docs = list(self._docs)
        sizes = np.asarray([len(self._docs[d][0]) for d in docs], dtype=np.int64)
        ids = np.concatenate([self._docs[d][0] for d in docs]) if docs else _NO_IDS
        acls = [json.dumps(list(self._docs[d][1])) for d in docs]
        np.savez(fh, documents=np.asarray(docs, dtype=str), acls=np.asarray(acls, dtype=str), sizes=sizes, ids=ids)

    @classmethod
    def load(cls, path: Path) -> "Catalog":
        """Read a catalog saved by ``save``; the error names the file when it is missing."""
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: this index generation predates it or is damaged; "
                                    f"rebuild the index with `chipassist index PATH --index DIR --rebuild`")
        with np.load(path, allow_pickle=False) as data:
            sizes = data["sizes"]
            blocks = np.split(data["ids"], np.cumsum(sizes)[:-1]) if len(sizes) else []
            return cls.from_rows((str(d), json.loads(str(a)), b)
                                 for d, a, b in zip(data["documents"], data["acls"], blocks))
