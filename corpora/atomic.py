"""Atomic file writes: readers see the old file or the new one, never a mix, and a killed writer leaves only a
temp file ``.<name>.tmp-<pid>`` (which ``retriever.layout.clean_temp_files`` removes), never a half-written file.

One writer for every stored artefact: index generations and their vector stores, reports, and the JSON Lines
rows handed between stages (``corpora.jsonl``).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, write: Callable[[BinaryIO], None] | Callable[[Path], None], *,
                 by_path: bool = False) -> None:
    """Write ``path`` through a temp file in the same folder, fsync it and rename it into place.

    The temp name ``.<name>.tmp-<pid>`` is the one ``retriever.layout.clean_temp_files`` removes when a
    killed writer leaves it. ``by_path``: ``write`` takes the temp path (libraries that open files
    themselves, e.g. ``faiss.write_index``) instead of an open binary file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if by_path:
            write(tmp)  # type: ignore[arg-type]
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        else:
            with open(tmp, "wb") as fh:
                write(fh)  # type: ignore[arg-type]
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
