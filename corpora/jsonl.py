"""JSON Lines files, read with errors that name the file and line, and written atomically.

Every stage that hands rows to the next (retriever pairs, SFT rows, checked Tcl tasks) uses these two, so a
bad line is reported the same way everywhere and an interrupted write never leaves half a file behind.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from corpora.atomic import atomic_write


def read_jsonl(path: Path, error: type[Exception] = ValueError) -> Iterator[tuple[int, object]]:
    """(line number, value) for each non-blank line of ``path``; ``error`` naming the file and line for one
    that is not UTF-8 JSON (callers check the shape of each value and raise the same way)."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                value = json.loads(line)
            except UnicodeDecodeError as e:
                raise error(f"{path}:{n}: not UTF-8 (byte {e.start + 1})") from e
            except json.JSONDecodeError as e:
                raise error(f"{path}:{n}: not JSON ({e.msg})") from e
            yield n, value


def write_jsonl(path: Path, rows: Iterable[object]) -> None:
    """Write ``rows`` one JSON value a line, atomically (`corpora.atomic`): an interrupted run, or a row that is
    not JSON-serialisable, leaves the old file intact and no temp file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(fh) -> None:
        for r in rows:
            fh.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
    atomic_write(path, write)
