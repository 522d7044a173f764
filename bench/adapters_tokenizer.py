"""Benchmark: tokens per 1,000 characters before/after tokenizer augmentation, per data type, on the shared corpus.

No Llama tokenizer exists here, so the base is a SentencePiece-style BPE (Llama 2's kind: Metaspace + byte
fallback) with VOCAB tokens trained on Python stdlib docstrings (adapters.tiny.build_tokenizer). General text is
held out from the base's training text. Run: `python bench/adapters_tokenizer.py [/work/shared/corpora] [MAX_MB]`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from adapters.data import load_domain, load_general, split_heldout
from adapters.tiny import build_tokenizer
from adapters.tokenizer import augment_tokenizer, tokens_per_kchar

VOCAB = 8000


def main(root: str = "/work/shared/corpora", max_mb: float = 4.0) -> None:
    t0 = time.perf_counter()
    general_train, general_test = split_heldout(load_general("stdlib", 10**7), 0.2)
    base = build_tokenizer(general_train, VOCAB, "spm-bpe")
    by_kind: dict[str, list[str]] = {}
    budget = max_mb * 1e6 / 4  # per kind, so every kind is represented
    for kind, text in load_domain([Path(root)]):
        if sum(map(len, by_kind.get(kind, []))) < budget:
            by_kind.setdefault(kind, []).append(text)
    domain = [t for ts in by_kind.values() for t in ts]
    tok, added = augment_tokenizer(base, domain, general_train, train_vocab_size=VOCAB + 8000, min_frequency=20,
                                   max_new=9000)
    measure = dict(by_kind, general=general_test)
    before, after = tokens_per_kchar(base, measure), tokens_per_kchar(tok, measure)
    print(f"base: spm-bpe {VOCAB} on stdlib docstrings; added {len(added)} tokens; {time.perf_counter()-t0:.0f}s")
    print(f"| kind | docs | chars | tokens/1k before | after | change |\n|---|---|---|---|---|---|")
    for k in measure:
        chars = sum(map(len, measure[k]))
        print(f"| {k} | {len(measure[k])} | {chars} | {before[k]} | {after[k]} | "
              f"{100 * (after[k] - before[k]) / before[k]:+.2f}% |")


if __name__ == "__main__":
    main(*(sys.argv[1:2] or []), *(float(x) for x in sys.argv[2:3]))
