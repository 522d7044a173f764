"""Ingest + chunk the real public corpus (/work/shared/corpora) and print time and chunk counts.

    python -m pytest tests/corpora/test_shared_corpus.py -m shared -q -s

Not a timed test: it checks that nothing crashes, that every file is accounted for and that chunks fit the
embedding window, and prints the numbers for the report.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from corpora.chunking import ChunkConfig, chunk_document
from corpora.ingest import ingest, scan


@pytest.mark.shared
def test_shared_corpus_ingests_and_chunks_within_the_window(shared_corpora):
    t0 = time.perf_counter()
    result = ingest([shared_corpora], progress=False)
    t1 = time.perf_counter()
    config = ChunkConfig()
    chunks = [c for d in result.documents for c in chunk_document(d, config)]
    t2 = time.perf_counter()
    s = result.report.summary()
    files = len(scan([shared_corpora]))
    print(f"\nfiles {files}  kept {s['kept']}  dropped {s['dropped']}  duplicates {s['duplicates']}  "
          f"secrets {s['secrets_scrubbed']}\ningest {t1 - t0:.1f} s  chunk {t2 - t1:.1f} s  chunks {len(chunks)}  "
          f"({len(chunks) / (t2 - t0):.0f} chunks/s end to end)\nby kind {dict(Counter(c.kind for c in chunks))}\n"
          f"drop reasons {s['drop_reasons']}")
    assert s["kept"] + s["duplicates"] + s["dropped"] >= files - 1  # every file accounted for (+ eval excludes)
    assert all(len(c.text) <= config.max_chars for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
