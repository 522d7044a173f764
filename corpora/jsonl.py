"""JSON Lines files, read with errors that name the file and line, and written atomically.

Every stage that hands rows to the next (retriever pairs, SFT rows, checked Tcl tasks) uses these two, so a
bad line is reported the same way everywhere and an interrupted write never leaves half a file behind.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path


def read_jsonl(path: Path, error: type[Exception] = ValueError) -> Iterator[tuple[int, object]]:
    """(line number, value) for each non-blank line of ``path``; ``error`` naming the file and line for one
    that is not JSON (callers check the shape of each value and raise the same way)."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise error(f"{path}:{n}: not JSON ({e.msg})") from e


def write_jsonl(path: Path, rows: Iterable[object]) -> None:
    """Write ``rows`` one JSON value a line, atomically (a temporary file beside it, then os.replace): an
    interrupted run leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
