"""How an index folder is laid out on disk, and how a build commits atomically.

    index_dir/
      CURRENT                 one line: the name of the live generation, e.g. "gen-000003"
      gen-000003/             store.sqlite, vectors.faiss, bm25/   (never modified once committed)
      ingest-report.json/.md  the last build's ingest report
      .staging-<pid>/         a build in progress (a copy of the live generation being changed)
      .CURRENT.tmp-<pid>      a pointer being written (write_atomic); removed on the next build or open
      .lock                   held (flock) by the one build allowed at a time

A build works in ``.staging-<pid>``, renames it to the next ``gen-N`` and then replaces ``CURRENT`` with
``os.replace``. A kill -9 at any moment leaves ``CURRENT`` naming a complete generation; the next build
removes the leftovers (stale staging folders, generations ``CURRENT`` does not name).
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

from corpora.atomic import atomic_write

POINTER = "CURRENT"
LOCK = ".lock"
_GEN = re.compile(r"^gen-(\d{6})$")
_TMP = re.compile(r"^\..+\.tmp-(\d+)$")  # write_atomic's temp files: .<name>.tmp-<pid>


class IndexNotFoundError(FileNotFoundError):
    """No index at the folder given (missing, empty or never built)."""


class CorruptIndexError(ValueError):
    """The folder holds an index that cannot be read."""


class BuildLockedError(RuntimeError):
    """Another build is writing the same index folder."""


def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when the folder holds no committed index."""
    pointer = index_dir / POINTER
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not _GEN.match(name):
        raise CorruptIndexError(f"{pointer} does not name a generation folder (got {name[:40]!r})")
    gen = index_dir / name
    if not gen.is_dir():
        raise CorruptIndexError(f"{pointer} names {name}, which is missing from {index_dir}")
    return gen


def next_generation(index_dir: Path) -> Path:
    """The folder the next generation goes into (one past the highest ``gen-NNNNNN``)."""
    numbers = [int(m.group(1)) for p in index_dir.iterdir() if (m := _GEN.match(p.name))]
    return index_dir / f"gen-{max(numbers, default=0) + 1:06d}"


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the folder's build lock (released by the OS if the process dies)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise BuildLockedError(f"another build is writing {index_dir}; wait for it to finish") from e
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def clean_temp_files(index_dir: Path, *, locked: bool = False) -> list[str]:
    """Remove ``write_atomic`` temp files (``.CURRENT.tmp-<pid>``, ...) left by a killed writer.

    A kill between writing the temp file and ``os.replace`` leaves one behind; it never holds the only copy
    of anything (the target is still the old, complete file). Without the build lock (``Index.open``) only
    files whose writer process is gone are removed; with it (``locked``) every one is stale.
    """
    removed = []
    for p in index_dir.iterdir():
        m = _TMP.match(p.name)
        if m and p.is_file() and (locked or not _pid_alive(int(m.group(1)))):
            try:
                p.unlink()
                removed.append(p.name)
            except OSError:  # a read-only index folder: leaving it is harmless
                pass
    return removed


def clean_leftovers(index_dir: Path) -> list[str]:
    """Remove staging folders, uncommitted generations and dead writers' temp files (with the build lock held)."""
    live = current_generation(index_dir)
    removed = clean_temp_files(index_dir, locked=True)
    for p in index_dir.iterdir():
        if p.is_dir() and (p.name.startswith(".staging-") or (_GEN.match(p.name) and p != live)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def new_staging(index_dir: Path) -> Path:
    """An empty staging folder for this process's build (one left by a killed build is cleared)."""
    staging = index_dir / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(index_dir: Path, staging: Path) -> Path:
    """Make ``staging`` the live generation atomically; the previous one is removed afterwards."""
    previous = current_generation(index_dir)
    for f in staging.rglob("*"):
        if f.is_file():
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())
    gen = next_generation(index_dir)
    os.rename(staging, gen)
    write_atomic(index_dir / POINTER, gen.name + "\n")
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    return gen


def write_atomic(path: Path, text: str) -> None:
    """Write a text file so readers see the old or the new content, never a mix."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
    _fsync_dir(path.parent)
