"""Building and updating an index: ingest, diff against the live generation, embed only what changed, commit.

``build_index([root, ...], index_dir)`` (or ``chipassist index ROOT... --index DIR``):

1. ingests the roots with ``corpora.ingest.ingest`` (curation, dedup, ACLs, the ingest report);
2. copies the live generation into ``.staging-<pid>`` (``retriever.layout``);
3. compares each document's content hash with the stored one: unchanged documents keep their chunks and
   vectors; changed ones are re-chunked and re-embedded; documents no longer present are removed; a
   document whose text is unchanged but whose ACL changed (a manifest edited, a symlink retargeted) gets
   the new groups on its chunks in place, and counts as changed: visibility is part of a document's state;
4. updates the vector store (``retriever.stores``, FAISS by default) by document, rebuilds BM25, and commits
   with an atomic rename + pointer swap.

Every file is re-read (cheap) so dedup and the ingest report always see the whole corpus; only embedding,
the expensive step, is incremental. A build killed mid-embedding leaves the live generation untouched and its
finished embedding steps in ``.embed-cache.sqlite``, so the re-run only embeds the rest.

Sources are relative to the root they were found under, so one index can hold several roots; when two roots
hold the same relative path the first root wins and the clash is reported in ``BuildReport.conflicts``.
An index records the embedding model that built it (name, path, fingerprint) and refuses to mix models:
use a new folder, or ``rebuild=True`` (``--rebuild``) to re-embed everything with the new model.
"""
from __future__ import annotations

import json
import shutil
import time
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpora.types import Chunk, Document
from retriever import layout, windows
from retriever.bm25 import BM25Index
from retriever.config import IndexConfig
from retriever.embed_cache import FILE as EMBED_CACHE, EmbedCache
from retriever.store import FILE as STORE_FILE, Store
from retriever.stores import VectorStore, create_store, open_store

# 2: one vector per passage window, FAISS/BM25 ids = vid * windows.STRIDE + j;
# 3: the vector store saves its catalog (document, ACL per id: retriever.stores.catalog) beside its vectors
FORMAT = 3
_STORE_KEYS = ("store", "faiss", "hnsw_", "ivf_", "pq_")  # settings a vector store is built with


class ModelMismatchError(ValueError):
    """The index was built with another embedding model; vectors from two models cannot be compared."""


class EmbedderLoadError(ValueError):
    """The embedding model folder could not be loaded (the message names the folder)."""


@dataclass
class BuildReport:
    """What a build did: documents added, changed, removed and unchanged, chunks embedded, time taken."""

    index_dir: Path
    added: int = 0  # documents new to the index
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    acl_changed: int = 0  # of `changed`: same text, new ACL groups (updated in place, not re-embedded)
    chunks_embedded: int = 0  # embedded by this run (not counting vectors a killed run left in the cache)
    windows_embedded: int = 0  # their passage windows (retriever.windows): what the model actually ran on
    chunks_total: int = 0
    seconds: float = 0.0
    model: dict[str, Any] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    ingest_report: Any = None  # corpora.ingest.IngestReport

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (JSON-ready), for `chipassist index --json`."""
        documents = {"added": self.added, "changed": self.changed, "removed": self.removed,
                     "unchanged": self.unchanged}
        return {"index_dir": str(self.index_dir), "documents": documents, "acl_changed": self.acl_changed,
                "chunks_embedded": self.chunks_embedded,
                "windows_embedded": self.windows_embedded,
                "chunks_total": self.chunks_total, "seconds": round(self.seconds, 2), "model": self.model,
                "conflicts": self.conflicts}


def _previous_manifest(index_dir: Path) -> tuple[Path | None, dict[str, Any]]:
    gen = layout.current_generation(index_dir) if index_dir.is_dir() else None
    if gen is None:
        return None, {}
    try:
        store = Store(gen / STORE_FILE, readonly=True)
        try:
            return gen, store.get_meta("manifest", {})
        finally:
            store.close()
    except Exception as e:  # sqlite3 errors for a damaged file
        raise layout.CorruptIndexError(f"the index at {index_dir} is unreadable ({gen.name}: {e}); pass "
                                       f"--rebuild (rebuild=True) to build it again from scratch") from e


def _resolve_model(model: str | Path | None, config: IndexConfig, previous: dict[str, Any]) -> Path:
    from retriever.embedder import default_model_path

    if model is not None:
        return Path(model).expanduser().resolve()
    if config.model is not None:
        return config.model.expanduser().resolve()
    old = previous.get("model", {}).get("path")
    return Path(old) if old and Path(old).is_dir() else default_model_path().resolve()


def _check_model(path: Path, previous: dict[str, Any], index_dir: Path) -> None:
    from retriever.embedder import model_fingerprint

    if not path.is_dir():
        raise FileNotFoundError(f"embedding model folder not found: {path}")
    new = {"path": str(path), "fingerprint": model_fingerprint(path)}
    old = previous.get("model")
    same_path = Path(old.get("path", "")).resolve() == path.resolve() if old else True
    if old and (old.get("fingerprint") != new["fingerprint"] or not same_path):
        raise ModelMismatchError(
            f"{index_dir} was built with embedding model {old.get('name')} ({old.get('path')}, fingerprint "
            f"{old.get('fingerprint')}), not {path} (fingerprint {new['fingerprint']}); vectors of two "
            f"models cannot be mixed: index into a new folder, or pass --rebuild (rebuild=True) to re-embed "
            f"everything")


def _unique_documents(docs: list[Document], report: BuildReport) -> dict[str, Document]:
    out: dict[str, Document] = {}
    for d in docs:
        if d.source in out:
            report.conflicts.append(f"{d.source}: found under two roots; kept the first root's file")
            continue
        out[d.source] = d
    return out


def _chunk_all(docs: list[Document], config: IndexConfig) -> list[tuple[Document, list[Chunk]]]:
    from corpora.chunking import chunk_document

    chunk_config = config.chunk_config()
    return [(d, chunk_document(d, chunk_config)) for d in docs]


@lru_cache(maxsize=2)
def _load_embedder(path: str, batch_size: int, backend: str, max_seq_length: int | None):
    from retriever.embedder import Embedder

    return Embedder(path, batch_size=batch_size, backend=backend, max_seq_length=max_seq_length)


def get_embedder(model_path: str | Path, config: IndexConfig):
    """The embedder for ``config`` (loaded once per process: re-indexing and searching share it)."""
    return _load_embedder(str(model_path), config.batch_size, config.embed_backend, config.max_seq_length)


def _embed(texts: list[str], config: IndexConfig, model_path: Path, staging: Path, progress: bool):
    """(embedder, vectors, positions of the texts embedded now) for ``texts``, in steps of ``embed_chunk``.

    Vectors a killed build already embedded come from the embedding cache; each new step is added to it.
    A marker file in the staging folder records progress (tests kill the build when it appears).
    """
    from rich.progress import Progress

    try:
        embedder = get_embedder(model_path, config)
    except (OSError, ValueError, KeyError, RuntimeError) as e:  # transformers/ONNX raise all of these
        raise EmbedderLoadError(f"cannot load the embedding model {model_path}: {type(e).__name__}: {e}") from e
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    cache = EmbedCache(staging.parent, embedder.fingerprint)
    keys = [cache.key(t) for t in texts]
    cached = {k: v for k, v in cache.get(keys).items() if v.shape[0] == embedder.dim}
    todo = [i for i, k in enumerate(keys) if k not in cached]
    for i, k in enumerate(keys):
        if k in cached:
            out[i] = cached[k]
    marker = staging / "progress.json"
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("embedding passages", total=len(texts), completed=len(texts) - len(todo))
        for start in range(0, len(todo), config.embed_chunk):
            step = todo[start:start + config.embed_chunk]
            vecs = embedder.embed_documents([texts[i] for i in step])
            out[step] = vecs
            cache.put([keys[i] for i in step], vecs)
            bar.advance(task, len(step))
            marker.write_text(json.dumps({"embedded": start + len(step), "total": len(todo)}))
    cache.close()
    return embedder, out, todo


def _update_vectors(staging: Path, prev_gen: Path | None, store: Store, config: IndexConfig,
                    previous: dict[str, Any], changes: "_Changes") -> None:
    """Apply the changes to the live generation's vector store, or build one from the stored vectors."""
    vectors: VectorStore | None = None
    same_type = previous.get("format") == FORMAT and all(
        previous.get("config", {}).get(k) == v for k, v in config.model_dump(mode="json").items()
        if k.startswith(_STORE_KEYS))
    if prev_gen is not None and same_type:
        try:
            vectors = open_store(prev_gen, config)
        except FileNotFoundError:
            vectors = None  # an older or damaged generation: rebuilt below from SQLite, no re-embedding
    if vectors is not None:
        for source in changes.removed:
            vectors.delete(source)
        for source, acl in changes.relabeled.items():
            try:
                vectors.set_acl(source, acl)
            except KeyError:
                pass  # a document without chunks has no vectors to relabel
        for source, acl, ids, vecs in changes.added:
            vectors.add(source, ids, vecs, acl)
    else:
        blocks = list(store.document_vectors(changes.dim, windows.STRIDE))
        train = np.concatenate([b[3] for b in blocks]) if blocks else None
        vectors = create_store(config, changes.dim, train=train)
        for source, acl, ids, vecs in blocks:
            vectors.add(source, ids, vecs, acl)
    vectors.snapshot(staging)


@dataclass
class _Changes:
    removed: list[str]  # documents gone or replaced
    relabeled: dict[str, list[str]]  # same text, new ACL groups
    added: list[tuple[str, list[str], np.ndarray, np.ndarray]]  # (source, acl, window ids, vectors) per document
    dim: int


def _apply_changes(store: Store, docs: dict[str, Document], config: IndexConfig, previous: dict[str, Any],
                   model_path: Path, staging: Path, report: BuildReport, progress: bool) -> _Changes | None:
    """Drop gone/changed documents from the store, embed and insert new/changed ones; None: nothing changed."""
    same_content = previous.get("content_key") == config.content_key()
    stored = store.document_hashes()
    old = stored if same_content else dict.fromkeys(stored, "")  # new chunk settings: re-embed everything
    todo = [d for s, d in docs.items() if old.get(s) != d.content_hash]
    gone = [s for s in old if s not in docs]
    relabel = _acl_changes(store, docs, old)
    report.added = sum(1 for d in todo if d.source not in old)
    report.acl_changed = len(relabel)
    report.changed, report.removed = len(todo) - report.added + len(relabel), len(gone)
    report.unchanged = len(docs) - len(todo) - len(relabel)
    replaced = gone + [d.source for d in todo if d.source in old]
    for s in replaced:
        store.remove_document(s)

    chunked = _chunk_all(todo, config)
    per_chunk = [windows.texts(c.title, c.text, config.window_chars) for _, chunks in chunked for c in chunks]
    texts = [t for ws in per_chunk for t in ws]
    sizes = [len(ws) for ws in per_chunk]
    dim = previous.get("model", {}).get("dim")
    report.model = previous.get("model", {})
    new_vecs = np.zeros((0, dim or 0), dtype=np.float32)
    if texts or not previous:
        embedder, new_vecs, fresh = _embed(texts, config, model_path, staging, progress)
        owner = np.repeat(np.arange(len(sizes)), sizes)
        report.windows_embedded, report.chunks_embedded = len(fresh), len(set(owner[fresh].tolist()))
        dim, report.model = embedder.dim, embedder.describe()
    mats = np.split(new_vecs, np.cumsum(sizes)[:-1]) if sizes else []  # one (windows, dim) block per chunk
    added = []
    pos = 0
    for doc, chunks in chunked:
        doc_mats = mats[pos:pos + len(chunks)]
        pos += len(chunks)
        vids = store.add_document(doc, chunks, doc_mats)
        ids = [windows.ids(vid, len(m)) for vid, m in zip(vids, doc_mats)]
        added.append((doc.source, list(doc.acl), np.concatenate(ids) if ids else np.zeros(0, np.int64),
                      np.concatenate(doc_mats) if doc_mats else np.zeros((0, dim or 0), np.float32)))
    report.chunks_total = store.count()
    if (not (todo or gone or relabel) and previous and previous.get("config") == config.model_dump(mode="json")
            and previous.get("format") == FORMAT):  # an older format is upgraded (no re-embedding) even if unchanged
        return None
    return _Changes(replaced, {s: list(docs[s].acl) for s in relabel}, added, int(dim))


def _acl_changes(store: Store, docs: dict[str, Document], old: dict[str, str]) -> list[str]:
    """Give unchanged documents whose ACL changed their new groups in the store; returns their sources."""
    stored = store.document_acls()
    relabel = [s for s, d in docs.items()
               if old.get(s) == d.content_hash and sorted(stored.get(s, [])) != sorted(d.acl)]
    for s in relabel:
        store.set_acl(s, docs[s].acl)
    return relabel


def _write_derived(staging: Path, prev_gen: Path | None, store: Store, config: IndexConfig,
                   previous: dict[str, Any], changes: _Changes) -> None:
    """Bring the vector store up to date and rebuild BM25 from the store."""
    _update_vectors(staging, prev_gen, store, config, previous, changes)
    ids: list[int] = []
    texts: list[str] = []
    for vid, source, title, text in store.sections():
        parts = windows.texts(title, text, config.window_chars)
        ids += windows.ids(vid, len(parts)).tolist()
        texts += [f"{source}\n{t}" if config.bm25_source else t for t in parts]
    BM25Index.build(ids, texts, k1=config.bm25_k1, b=config.bm25_b).save(staging / "bm25")


def _write_ingest_report(index_dir: Path, report: Any) -> None:
    """The full ingest report of the last build, as JSON and Markdown, next to the generations."""
    layout.write_atomic(index_dir / "ingest-report.json", json.dumps(report.to_dict(), indent=2, default=str))
    layout.write_atomic(index_dir / "ingest-report.md", report.to_markdown())


def build_index(paths: list[Path], index_dir: Path, config: IndexConfig | None = None, *,
                model: str | Path | None = None, progress: bool = True, rebuild: bool = False) -> BuildReport:
    """Create or incrementally update the index in ``index_dir`` from the corpus folders/files ``paths``.

    Args:
        paths: corpus roots; each document's source is relative to its root.
        config: build and search settings (default: the index's stored config, else ``IndexConfig()``).
        model: embedding model folder (overrides ``config.model``; default: the index's model, else MiniLM).
        rebuild: start from scratch (needed to switch embedding models in place).
    Returns:
        BuildReport with document/chunk counts, seconds and the ingest report.
    Raises:
        ModelMismatchError: the index was built with another model and ``rebuild`` is False.
        EmbedderLoadError: the embedding model folder cannot be loaded.
        BuildLockedError: another build is running on ``index_dir``.
        ValueError: an invalid ACL manifest (the message names the file).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"corpus path not found: {root}")
    report = BuildReport(index_dir=index_dir)
    with layout.build_lock(index_dir):
        layout.clean_leftovers(index_dir)
        prev_gen, previous = (None, {}) if rebuild else _previous_manifest(index_dir)
        if config is None:
            config = IndexConfig.model_validate(previous.get("config") or {})
        model_path = _resolve_model(model, config, previous)
        _check_model(model_path, previous, index_dir)
        config = config.model_copy(update={"model": model_path})

        from corpora.ingest import ingest

        result = ingest(roots, config.ingest_config(), progress=progress)
        report.ingest_report = result.report
        docs = _unique_documents(result.documents, report)

        staging = layout.new_staging(index_dir)
        if prev_gen is not None and (prev_gen / STORE_FILE).is_file():
            shutil.copy2(prev_gen / STORE_FILE, staging / STORE_FILE)  # the vector store is read from prev_gen
        store = Store(staging / STORE_FILE)
        try:
            changed = _apply_changes(store, docs, config, previous, model_path, staging, report, progress)
            if changed is not None:
                _write_derived(staging, prev_gen, store, config, previous, changed)
                store.set_meta("manifest", {
                    "format": FORMAT, "model": report.model, "config": config.model_dump(mode="json"),
                    "content_key": config.content_key(), "roots": [str(r.resolve()) for r in roots],
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "counts": {"documents": store.count("documents"), "chunks": report.chunks_total}})
                store.commit()
        finally:
            store.close()
        if changed is None:
            shutil.rmtree(staging, ignore_errors=True)  # nothing changed: the live generation stays
        else:
            (staging / "progress.json").unlink(missing_ok=True)
            layout.commit(index_dir, staging)
        (index_dir / EMBED_CACHE).unlink(missing_ok=True)  # committed: nothing left to resume
        _write_ingest_report(index_dir, result.report)
    report.seconds = time.perf_counter() - t0
    return report
