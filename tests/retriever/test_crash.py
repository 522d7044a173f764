"""kill -9 in the middle of a build leaves the previous index usable, and a re-run finishes the job."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from retriever.index import Index, build_index

ROOT = Path(__file__).resolve().parents[2]

BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from retriever.config import IndexConfig
    from retriever.index import build_index
    cfg = IndexConfig(embed_chunk=4, batch_size=4)  # many small steps: easy to kill in the middle
    build_index([Path(sys.argv[1])], Path(sys.argv[2]), cfg, progress=False)
""")


def _many_docs(corpus: Path, n: int) -> None:
    for i in range(n):
        (corpus / "notes" / f"note{i:03d}.md").parent.mkdir(parents=True, exist_ok=True)
        (corpus / "notes" / f"note{i:03d}.md").write_text(
            f"# Note {i}\n\nRegister R{i} of block B{i % 7} resets to {i * 3}. " + "Filler. " * 30 + "\n")


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        assert proc.poll() is None, f"build exited early: {proc.communicate()}"
        time.sleep(0.02)
    raise AssertionError("the build never reached the point to kill it at")


def test_kill_9_mid_embedding_keeps_the_old_index(mini_index):
    corpus, out = mini_index
    old_count = len(Index.open(out))
    _many_docs(corpus, 24)
    proc = subprocess.Popen([sys.executable, "-c", BUILD, str(corpus), str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def mid_embedding() -> bool:
            for marker in out.glob(".staging-*/progress.json"):
                try:
                    p = json.loads(marker.read_text())
                except (OSError, ValueError):  # being written
                    continue
                return 0 < p["embedded"] < p["total"]
            return False

        _wait_for(mid_embedding, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert list(out.glob(".staging-*")), "the kill should have left a staging folder behind"

    index = Index.open(out)  # the previous generation is intact and searchable
    assert len(index) == old_count
    assert index.search("UART baud rate", k=1)[0].chunk.source == "docs/uart.md"
    index.close()

    report = build_index([corpus], out, progress=False)  # the re-run finishes the job
    assert report.added == 24
    new_chunks = len(Index.open(out)) - old_count
    assert 0 < report.chunks_embedded < new_chunks  # the steps the killed run finished are not redone
    assert not (out / ".embed-cache.sqlite").exists()
    assert not list(out.glob(".staging-*"))
    assert len([p for p in out.iterdir() if p.name.startswith("gen-")]) == 1
    index = Index.open(out)
    assert index.search("Register R17 resets", k=3, mode="bm25")[0].chunk.source == "notes/note017.md"


KILLED_IN_COMMIT = textwrap.dedent("""
    import os, shutil, signal, sys
    from pathlib import Path
    from retriever import layout
    out = Path(sys.argv[1])
    staging = layout.new_staging(out)
    for f in layout.current_generation(out).iterdir():  # a complete copy, as a build would commit
        (shutil.copytree if f.is_dir() else shutil.copy2)(f, staging / f.name)
    os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die after the temp pointer, before the swap
    layout.commit(out, staging)
""")


def _kill_in_commit(out: Path) -> Path:
    proc = subprocess.run([sys.executable, "-c", KILLED_IN_COMMIT, str(out)], cwd=ROOT, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    temps = list(out.glob(".CURRENT.tmp-*"))
    assert len(temps) == 1
    return temps[0]


def test_a_pointer_temp_file_left_by_a_kill_in_commit_is_removed_on_open_and_build(mini_index):
    corpus, out = mini_index
    live = (out / "CURRENT").read_text()
    tmp = _kill_in_commit(out)
    assert (out / "CURRENT").read_text() == live  # the pointer still names the old, complete generation
    index = Index.open(out)
    assert not tmp.exists() and index.search("UART baud rate", k=1)
    index.close()

    tmp = _kill_in_commit(out)
    build_index([corpus], out, progress=False)
    assert not tmp.exists() and not list(out.glob(".*.tmp-*"))
    assert [p.name for p in out.iterdir() if p.name.startswith("gen-")] == [live.strip()]  # nothing changed
