"""Tokenizer augmentation (ChipNeMo): add frequent domain tokens to a base fast tokenizer, resize and
mean-initialise the embeddings, and report tokens per 1,000 characters before and after.

Tokens are added with `add_tokens` (the model vocab is left alone, so any fast tokenizer kind works). Added tokens
are matched before the model's own segmentation, which can split a word badly; candidates that make any line of
a general-text sample (or of the domain sample) longer are dropped until none does, so general text never grows.
Run: `chipassist adapt tokenizer RECIPE` or `python -m adapters.tokenizer BASE_DIR CORPUS_DIR`.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import torch
from tokenizers import AddedToken

_LETTER = re.compile(r"[A-Za-z]")


def _surface(token: str, tokenizer) -> str | None:
    """The text a vocab entry stands for (None for WordPiece continuations and byte tokens)."""
    if token.startswith("##") or re.fullmatch(r"<0x[0-9A-F]{2}>", token):
        return None
    if "▁" in token:
        return token.replace("▁", " ")
    if tokenizer.backend_tokenizer.decoder is not None and type(tokenizer.backend_tokenizer.decoder).__name__ == "ByteLevel":
        return tokenizer.backend_tokenizer.decoder.decode([token])
    return token


def candidates(base, domain_texts: list[str], train_vocab_size: int, min_frequency: int, coverage: float,
               max_new: int) -> list[tuple[str, int]]:
    """(surface text, frequency) of new tokens from a same-kind tokenizer trained on domain text, best first."""
    trained = base.train_new_from_iterator(domain_texts, vocab_size=train_vocab_size)
    counts: Counter = Counter()
    for t in domain_texts:
        counts.update(trained(t, add_special_tokens=False)["input_ids"])
    base_vocab = set(base.get_vocab())
    id_to_tok = {i: t for t, i in trained.get_vocab().items()}
    found: dict[str, int] = {}
    for tid, n in counts.items():
        tok = id_to_tok[tid]
        if tok in base_vocab or n < min_frequency:
            continue
        text = _surface(tok, base)
        if not text or not _LETTER.search(text) or len(text.strip()) < 2:
            continue
        # a token whose text the base already encodes as one piece adds nothing
        if len(base(text, add_special_tokens=False)["input_ids"]) < 2:
            continue
        found[text] = found.get(text, 0) + n
    ranked = sorted(found.items(), key=lambda kv: -kv[1])
    total, kept, acc = sum(found.values()), [], 0
    for text, n in ranked:
        if acc >= coverage * total or len(kept) >= max_new:
            break
        kept.append((text, n))
        acc += n
    return kept


def _lines(texts: list[str], max_chars: int) -> list[str]:
    out, total = [], 0
    for t in texts:
        for line in t.splitlines():
            if line.strip() and total < max_chars:
                out.append(line)
                total += len(line)
    return out


def _added(text: str) -> AddedToken:
    return AddedToken(text, single_word=False, lstrip=False, rstrip=False, normalized=False)


def filter_lengthening(base, tokens: list[str], sample_lines: list[str], max_rounds: int = 20) -> list[str]:
    """Drop added tokens until no sample line encodes longer than with the base tokenizer."""
    before = [len(x) for x in base(sample_lines, add_special_tokens=False)["input_ids"]]
    keep = list(tokens)
    for _ in range(max_rounds):
        tok = _copy(base)
        tok.add_tokens([_added(t) for t in keep])
        ids = tok(sample_lines, add_special_tokens=False)["input_ids"]
        first_new = len(base)
        bad = set()
        for b, seq in zip(before, ids):
            if len(seq) > b:
                bad.update(tok.convert_ids_to_tokens([i for i in seq if i >= first_new]))
        if not bad:
            return keep
        keep = [t for t in keep if t not in bad]
    return []


def _copy(tok):
    import copy
    return copy.deepcopy(tok)


def tokens_per_kchar(tok, texts_by_kind: dict[str, list[str]]) -> dict[str, float]:
    """Tokens per 1,000 characters for each kind of text."""
    out = {}
    for kind, texts in texts_by_kind.items():
        chars = sum(len(t) for t in texts)
        n = sum(len(x) for x in tok(texts, add_special_tokens=False)["input_ids"]) if texts else 0
        out[kind] = round(1000 * n / chars, 2) if chars else 0.0
    return out


def augment_tokenizer(base, domain_texts: list[str], general_texts: list[str], *, train_vocab_size: int = 4000,
                      min_frequency: int = 5, coverage: float = 0.98, max_new: int = 9000,
                      check_chars: int = 200_000):
    """Return (augmented tokenizer copy, list of added token texts)."""
    cands = [t for t, _ in candidates(base, domain_texts, train_vocab_size, min_frequency, coverage, max_new)]
    sample = _lines(general_texts, check_chars) + _lines(domain_texts, check_chars)
    kept = filter_lengthening(base, cands, sample)
    tok = _copy(base)
    tok.add_tokens([_added(t) for t in kept])
    return tok, kept


def resize_and_init(model, base_tok, new_tok, pad_to_multiple_of: int = 64) -> int:
    """Resize embeddings (padded) and set each new row to the mean of its base sub-token embeddings."""
    old = len(base_tok)
    model.resize_token_embeddings(len(new_tok), pad_to_multiple_of=pad_to_multiple_of, mean_resizing=False)
    emb_in = model.get_input_embeddings().weight
    emb_out = model.get_output_embeddings().weight
    tied = emb_out.data_ptr() == emb_in.data_ptr()
    with torch.no_grad():
        for tid in range(old, len(new_tok)):
            text = new_tok.convert_ids_to_tokens(tid)
            sub = base_tok(text, add_special_tokens=False)["input_ids"]
            emb_in[tid] = emb_in[sub].mean(0)
            if not tied:
                emb_out[tid] = emb_out[sub].mean(0)
    return len(new_tok) - old


def augment_folder(base_dir: Path, out_dir: Path, texts_by_kind: dict[str, list[str]], general: list[str],
                   cfg, model_dir: Path | None = None) -> dict:
    """Augment the tokenizer in `base_dir` (and resize the model in `model_dir`), save to `out_dir` atomically."""
    import os
    import shutil

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from adapters.config import RecipeError
    try:
        base = AutoTokenizer.from_pretrained(base_dir)
    except Exception as e:
        raise RecipeError(f"no usable tokenizer in {base_dir}: {e}") from e
    if not base.is_fast:
        raise RecipeError(f"{base_dir}: augmentation needs a fast tokenizer (tokenizer.json)")
    model = None
    if model_dir is not None:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        if model.get_input_embeddings().weight.shape[0] < len(base):
            raise RecipeError(f"{model_dir}: embedding rows ({model.get_input_embeddings().weight.shape[0]}) "
                              f"fewer than the tokenizer in {base_dir} ({len(base)}) (tokenizer and model folders do not match)")
    domain = [t for ts in texts_by_kind.values() for t in ts]
    tok, kept = augment_tokenizer(base, domain, general, train_vocab_size=cfg.train_vocab_size,
                                  min_frequency=cfg.min_frequency, coverage=cfg.coverage,
                                  max_new=cfg.max_new_tokens, check_chars=cfg.general_check_chars)
    measure = dict(texts_by_kind, general=general)
    report = {"added": len(kept), "examples": kept[:20], "before": tokens_per_kchar(base, measure),
              "after": tokens_per_kchar(tok, measure)}
    report["change_pct"] = {k: round(100 * (report["after"][k] - v) / v, 2) if v else 0.0
                            for k, v in report["before"].items()}
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tok.save_pretrained(tmp)
    if model is not None:
        report["embedding_rows"] = resize_and_init(model, base, tok, cfg.pad_to_multiple_of) and \
            model.get_input_embeddings().weight.shape[0]
        model.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return report
