"""Benchmark: tokens per 1,000 characters before/after tokenizer augmentation, per data type, on the shared corpus.

Two bases: a real byte-level BPE tokenizer (SmolLM2's 49,152 tokens, read from its GGUF or an imported folder:
`--base models/SmolLM2-135M-Instruct.Q4_1.gguf`), or, without --base, a SentencePiece-style BPE (Llama 2's kind:
Metaspace + byte fallback) with VOCAB tokens trained here on Python stdlib docstrings. General text is stdlib
docstrings held out from what the augmentation's filter sees; Tcl is the ```tcl blocks of the docs.
Run: `python bench/adapters_tokenizer.py [/work/shared/corpora] [MAX_MB] [--base GGUF_OR_FOLDER]`.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from adapters.data import load_domain, load_general, split_heldout
from adapters.tiny import build_tokenizer
from adapters.tokenizer import augment_tokenizer, report_kinds, tokens_per_kchar

VOCAB = 8000


def load_base(base: str | None, general_train: list[str]):
    """(tokenizer, description): the real tokenizer at `base` (GGUF file or folder), else a trained SPM-BPE."""
    if base is None:
        return build_tokenizer(general_train, VOCAB, "spm-bpe"), f"spm-bpe {VOCAB} on stdlib docstrings"
    from transformers import AutoTokenizer
    p = Path(base)
    tok = AutoTokenizer.from_pretrained(p.parent, gguf_file=p.name) if p.suffix == ".gguf" else \
        AutoTokenizer.from_pretrained(p)
    return tok, f"{p.name}: {type(tok.backend_tokenizer.model).__name__} {len(tok)}"


def main(root: str = "/work/shared/corpora", max_mb: float = 4.0, base: str | None = None) -> None:
    t0 = time.perf_counter()
    general_train, general_test = split_heldout(load_general("stdlib", 10**7), 0.2)
    tok0, desc = load_base(base, general_train)
    by_kind: dict[str, list[str]] = {}
    budget = max_mb * 1e6 / 4  # per kind, so every kind is represented
    for kind, text in load_domain([Path(root)]):
        if sum(map(len, by_kind.get(kind, []))) < budget:
            by_kind.setdefault(kind, []).append(text)
    domain = [t for ts in by_kind.values() for t in ts]
    tok, added = augment_tokenizer(tok0, domain, general_train, train_vocab_size=len(tok0) + 8000,
                                   min_frequency=20, max_new=9000)
    measure = dict(report_kinds(by_kind), domain=domain, general=general_test)
    before, after = tokens_per_kchar(tok0, measure), tokens_per_kchar(tok, measure)
    print(f"base: {desc}; added {len(added)} tokens; {time.perf_counter()-t0:.0f}s")
    print("| kind | docs | chars | tokens/1k before | after | change |\n|---|---|---|---|---|---|")
    for k in measure:
        chars = sum(map(len, measure[k]))
        print(f"| {k} | {len(measure[k])} | {chars} | {before[k]} | {after[k]} | "
              f"{100 * (after[k] - before[k]) / before[k]:+.2f}% |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", nargs="?", default="/work/shared/corpora")
    ap.add_argument("max_mb", nargs="?", type=float, default=4.0)
    ap.add_argument("--base", help="a GGUF file or transformers folder whose tokenizer to augment")
    a = ap.parse_args()
    main(a.root, a.max_mb, a.base)
