"""Ingest corpus folders into curated Documents, with a report of every file kept, dropped or deduplicated.

    from corpora.ingest import ingest
    result = ingest([Path("corpora/sample")])
    print(result.report.to_markdown())

Pipeline per file: scan (size, links, readability) -> load with the file's registered format
(`corpora.loaders`: binary, malformed and encoding repair are the loader's; bug exports become one Document
per bug) -> curate (generated files, license headers, secrets scrubbed; per the format's settings) -> dedupe
(exact + MinHash near-dup). Bad files are skipped and reported, never fatal. Ingest names no format itself:
a new format is a module that registers in `corpora.loaders.registry`.
`scan` + `load_file` are exposed so the indexer can skip unchanged files without reading them.
"""
from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from corpora import curate, loaders
from corpora.acl import AclManifest, AclTree
from corpora.dedup import Deduplicator
from corpora.report import Duplicate, IngestReport, Kept
from corpora.types import Document, strictest

BUG_EXPORT_SUFFIXES = (".json", ".jsonl", ".csv")  # bug exports are sniffed among these (`corpora.bugs`)
SKIP_DIRS = {".git", ".svn", ".hg", "node_modules", "__pycache__", ".venv", "venv", ".chipassist", ".pytest_cache"}
# Real trees are a few dozen folders deep; deeper nesting is a trap (os.walk recurses, paths pass PATH_MAX).
MAX_DEPTH = 100


class IngestConfig(BaseModel):
    """What ingest keeps: size limit, near-duplicate removal, secret scrubbing, excluded globs.

    Typed and closed (``extra="forbid"``), so a mistyped key fails when the config is loaded."""

    model_config = ConfigDict(extra="forbid")

    max_bytes: int = Field(5_000_000, ge=1, description="files larger than this are dropped unread")
    near_dup: bool = True
    near_dup_threshold: float = Field(0.9, gt=0.0, le=1.0)
    scrub_secrets: bool = True
    strip_license_headers: bool = True
    drop_generated: bool = True
    # eval/ holds question sets with their answers: indexing them would leak the answers into retrieval
    exclude: list[str] = Field(default_factory=lambda: ["chipassist-acl.yaml", "*.egg-info/*", "eval/*"])
    include_unknown_text: bool = True  # files of unknown type that sniff as text are kept as plain text


@dataclass
class FileEntry:
    """A file found under a corpus root, before it is read."""

    path: Path  # absolute path on disk
    source: str  # POSIX path relative to its root
    root: Path
    size: int
    mtime: float


@dataclass
class Drop:
    """A file ingest left out, and why (shown in the ingest report, never silently lost)."""

    path: str
    reason: str


@dataclass
class IngestResult:
    """The documents ingest kept and the report of what it dropped and why."""

    documents: list[Document]
    report: IngestReport


def _source(root: Path, path: Path) -> str:
    return path.name if root.is_file() else path.relative_to(root).as_posix()


def scan(roots: list[Path], config: IngestConfig | None = None, report: IngestReport | None = None) -> list[FileEntry]:
    """List candidate files under each root (sorted); unreadable/looping/special files go to `report`."""
    config = config or IngestConfig()
    report = report if report is not None else IngestReport()
    entries: list[FileEntry] = []
    for root in roots:
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"corpus path not found: {root}")
        paths = [root] if root.is_file() else _walk(root, report)
        for path in sorted(paths):
            source = _source(root, path)
            if not _utf8(source):  # os.fsdecode keeps undecodable bytes as surrogates; no store can hold them
                report.drop(source, "file name is not valid UTF-8 (rename the file)")
                continue
            if any(fnmatch.fnmatchcase(source, pat) or fnmatch.fnmatchcase(path.name, pat) for pat in config.exclude):
                continue
            try:
                st = path.stat()  # follows links: a loop raises ELOOP, a dangling link ENOENT
            except OSError as e:
                reason = {errno.ELOOP: "symlink loop", errno.ENOENT: "broken symlink"}.get(e.errno, f"unreadable: {e.strerror}")
                report.drop(source, reason)
                continue
            if why := _outside_root(root, path):
                report.drop(source, why)
                continue
            if not stat.S_ISREG(st.st_mode):
                report.drop(source, "not a regular file (device, FIFO or socket)")
                continue
            entries.append(FileEntry(path, source, root, st.st_size, st.st_mtime))
    return entries


def _outside_root(root: Path, path: Path) -> str | None:
    """Why ``path`` is not read: through a symlink it resolves outside the corpus root (the folder given, or
    a single file's folder); ``ln -s /etc/passwd x.txt`` must not put the host's files in the index."""
    base = (root if root.is_dir() else root.parent).resolve()
    real = path.resolve()
    if real == base or base in real.parents:
        return None
    return "symlink to a file outside the corpus root not followed"


def _acl_groups(entry: FileEntry, acl: AclManifest | AclTree) -> list[str]:
    """The file's groups: every manifest above it and, for a symlink, above its target (`corpora.acl`)."""
    return acl.groups_for_path(entry.path) if isinstance(acl, AclTree) else acl.groups_for(entry.source)


def _walk(root: Path, report: IngestReport) -> list[Path]:
    out: list[Path] = []

    def onerror(e: OSError) -> None:
        report.drop(Path(e.filename).relative_to(root).as_posix() if e.filename else str(root), f"unreadable folder: {e.strerror}")

    # Symlinked folders are not followed: following them is how corpora loop forever or escape the tree.
    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        base = Path(dirpath)
        if dirnames and len(base.relative_to(root).parts) >= MAX_DEPTH:
            for d in dirnames:
                report.drop((base / d).relative_to(root).as_posix(), f"folder nested deeper than {MAX_DEPTH} levels")
            dirnames.clear()
        for d in list(dirnames):
            if d in SKIP_DIRS or (base / d).is_symlink():
                if (base / d).is_symlink():
                    report.drop((base / d).relative_to(root).as_posix(), "symlinked folder not followed")
                dirnames.remove(d)
        out.extend(base / f for f in filenames)
    return out


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def load_file(entry: FileEntry, config: IngestConfig | None = None, acl: AclTree | AclManifest | None = None,
              report: IngestReport | None = None) -> list[Document] | Drop:
    """Read, type, clean and scrub one file. Returns its Documents (a bug export gives one per bug) or a Drop.

    ``acl``: the manifests to apply (default: every `chipassist-acl.yaml` above the file, `AclTree`).
    """
    config = config or IngestConfig()
    acl = acl if acl is not None else AclTree()
    report = report if report is not None else IngestReport()
    path, source = entry.path, entry.source
    if entry.size == 0:
        return Drop(source, "empty file (0 bytes)")
    if entry.size > config.max_bytes:
        return Drop(source, f"oversize: {entry.size / 2**20:.1f} MiB > {config.max_bytes / 2**20:.1f} MiB limit")
    fmt = loaders.format_for(path)
    # a registered format (.docx, .xlsx) is read by its loader even where the suffix is on the binary list
    if fmt is None and path.suffix.lower() in curate.BINARY_EXT:
        return Drop(source, f"binary file type ({path.suffix})")
    groups = _acl_groups(entry, acl)
    if not groups:
        return Drop(source, "ACL rules that apply to it (nested manifests, or a symlink and its target) share no "
                            "group: it would be visible to no one")
    try:
        if path.suffix.lower() in BUG_EXPORT_SUFFIXES:
            docs = _bug_documents(entry, groups, report)  # one Document per bug, each with its own ACL
            if docs is not None:
                return docs
        loaded = (fmt or loaders.get("text")).load(path)
        if fmt is None and not config.include_unknown_text:  # after loading: binary content is the better reason
            return Drop(source, f"unknown file type ({path.suffix or 'no extension'})")
    except PermissionError as e:
        return Drop(source, f"unreadable: {e.strerror}")
    except ValueError as e:  # a loader's reason: malformed PDF, binary content, no extractable text
        return Drop(source, str(e))
    except OSError as e:
        return Drop(source, f"unreadable: {e.strerror or e}")
    # a loader may name a variant it recognised (another registered format): its settings apply
    fmt = loaders.get(loaded.doc_type) or fmt or loaders.get("text")
    doc_type, title, locations = fmt.doc_type, loaded.title, sorted(loaded.locations)
    notes = list(loaded.meta.get("notes", []))
    text = loaded.text.replace("\r\n", "\n")
    locations = _shift(locations, len(text) - len(text.lstrip("\n")))  # normalise strips leading blank lines
    text = curate.normalise(text)
    if not text.strip():
        return Drop(source, "empty after cleaning (whitespace only)")
    # Generated docs are still what engineers read (register pages from hjson): the header rule skips prose.
    if config.drop_generated and (why := curate.generated_reason(path.name, text, check_header=fmt.generated_header)):
        return Drop(source, why)
    if config.strip_license_headers and fmt.strip_license:
        stripped = curate.strip_license_header(text)
        locations = _shift(locations, text.count("\n") - stripped.count("\n"))
        text = stripped
    if config.scrub_secrets:
        text, found = curate.scrub_secrets(text)
        if found:
            report.secrets[source] = dict(found)
            notes.append(f"{sum(found.values())} secret(s) scrubbed")
    title = title or fmt.title_for(text, path.name)
    kind = fmt.kind_for(source)
    metadata = {k: v for k, v in loaded.meta.items() if k != "notes"}
    if notes:
        metadata["notes"] = notes
    doc = Document(source=source, title=title, doc_type=doc_type, kind=kind, text=text, mtime=entry.mtime,
                   acl=groups, metadata=metadata, locations=locations)
    return [doc]


def _shift(locations: list[tuple[int, str]], removed: int) -> list[tuple[int, str]]:
    """Locations after ``removed`` leading lines were cut from the text (a label there moves to line 0)."""
    if not removed:
        return locations
    shifted = [(max(line - removed, 0), label) for line, label in locations]
    # of the labels that collapse onto line 0, the last one is where the remaining text starts
    return [loc for loc, nxt in zip(shifted, shifted[1:] + [(1, "")]) if loc[0] or nxt[0]]


def _bug_documents(entry: FileEntry, groups: list[str], report: IngestReport) -> list[Document] | None:
    """One Document per bug if the file is a bug export (JSONL, CSV or GitHub issues JSON), else None."""
    from corpora.bugs import bug_to_text, load_bug_export, looks_like_bug_export

    if not looks_like_bug_export(entry.path):
        return None
    export = load_bug_export(entry.path)
    report.problems.extend(export.problems)
    docs = []
    for bug in export.records:
        acl = strictest(groups, bug.acl)  # the export file's ACL and the record's own `acl`/`groups` field
        if not acl:
            report.problems.append(f"{entry.source}#{bug.id}: its `acl` field {bug.acl} shares no group with the "
                                   f"file's ACL {groups}; bug skipped (it would be visible to no one)")
            continue
        text, found = curate.scrub_secrets(bug_to_text(bug))
        if found:
            report.secrets[f"{entry.source}#{bug.id}"] = dict(found)
        docs.append(Document(
            source=f"{entry.source}#{bug.id}", title=f"{bug.id}: {bug.title}", doc_type="bug", kind="bugs", text=text,
            mtime=entry.mtime, acl=acl,
            metadata={"bug_id": bug.id, "status": bug.status, "component": bug.component, "assignee": bug.assignee},
        ))
    return docs


def ingest(roots: list[Path], config: IngestConfig | None = None, *, progress: bool = True,
           entries: list[FileEntry] | None = None) -> IngestResult:
    """Ingest corpus roots (folders or single files); see the module docstring for the pipeline.

    Args:
        entries: pre-scanned files (from `scan`) to load instead of scanning `roots` again.
    Raises:
        FileNotFoundError: a root does not exist. ValueError: an invalid ACL manifest (names the file).
    """
    from rich.progress import Progress

    config = config or IngestConfig()
    roots = [Path(r) for r in roots]
    report = IngestReport()
    entries = scan(roots, config, report) if entries is None else entries
    acl = AclTree()
    dedup = Deduplicator(threshold=config.near_dup_threshold)
    documents: list[Document] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("ingesting", total=len(entries))
        for entry in entries:
            acl.groups_for_path(entry.path)  # an invalid ACL manifest stops the build, naming its file
            try:
                result = load_file(entry, config, acl, report)
            except Exception as e:  # noqa: BLE001
                # a parser's failure on one hostile file (deep HTML, odd PDF) must cost that file, not the build
                result = Drop(entry.source, f"could not be read: {type(e).__name__}: {e}")
            bar.advance(task)
            if isinstance(result, Drop):
                report.drop(result.path, result.reason)
                continue
            for doc in result:
                # copies are compared only with copies of the same visibility: dropping a public copy of a
                # restricted file as its duplicate would change who sees the text (see corpora.dedup)
                dup = dedup.check(doc.source, doc.content_hash, doc.text, near=config.near_dup and doc.kind != "bugs",
                                  scope=tuple(sorted(doc.acl)))
                if dup:
                    report.duplicates.append(Duplicate(doc.source, dup[1], dup[0]))
                    continue
                documents.append(doc)
                report.kept.append(Kept(doc.source, doc.kind, doc.doc_type, len(doc.text), doc.metadata.get("notes", [])))
    report.problems.extend(_acl_warnings(acl, entries, roots))
    return IngestResult(documents, report)


def _acl_warnings(acl: AclTree, entries: list[FileEntry], roots: list[Path]) -> list[str]:
    """ACL rules that match none of the scanned files (logged too): a mistyped glob must not fail silently."""
    for entry in entries:  # every scanned file counts, also those dropped later (empty, binary, ...)
        acl.groups_for_path(entry.path)
    return acl.unmatched(roots)
