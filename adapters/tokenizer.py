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
_TCL_FENCE = re.compile(r"```tcl\n(.*?)```", re.S)


def check_special_collisions(tok, tokens: list[str]) -> list[str]:
    """The tokens that would collide with a special/control token of `tok` (equal to one, containing one, or
    holding its `<|`/`|>` markers), which would let plain text forge or split a role or end-of-turn marker."""
    specials = {str(t) for t in tok.all_special_tokens} | {
        t.content for t in tok.added_tokens_decoder.values() if t.special}
    bad = []
    for t in tokens:
        core = t.strip()
        if not core or any(core == s or s in t or (core in s and not core.isalnum()) for s in specials):
            bad.append(t)
    return bad


def refuse_collisions(base, tokens: list[str]) -> None:
    """RecipeError naming the hand-picked tokens that collide with the base tokenizer's special tokens."""
    from adapters.config import RecipeError
    bad = check_special_collisions(base, tokens)
    if bad:
        raise RecipeError(f"tokenizer.extra_tokens: {bad} collide with the special tokens of the base tokenizer "
                          f"({sorted(map(str, base.all_special_tokens))}); remove them")


def report_kinds(by_kind: dict[str, list[str]]) -> dict[str, list[str]]:
    """Texts per kind for the tokens/1k table; Tcl scripts embedded in docs (```tcl fences, as in OpenROAD's
    command references) count as Tcl when the corpus has no .tcl files of its own."""
    out = {k: list(v) for k, v in by_kind.items()}
    if not out.get("tcl"):
        tcl = [m for t in by_kind.get("docs", []) for m in _TCL_FENCE.findall(t) if m.strip()]
        if tcl:
            out["tcl"] = tcl
    return out


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


def _common_in(token: str, general: str, per_100k: float = 2.0) -> bool:
    """ChipNeMo keeps new tokens that are rare in general text: an added token is matched anywhere in the text,
    even inside another word, so one common in general text would re-segment (and can lengthen) general text."""
    return general.count(token) > max(2.0, per_100k * len(general) / 100_000)


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
                      check_chars: int = 200_000, extra_tokens: list[str] | None = None):
    """Return (augmented tokenizer copy, list of added token texts).

    `extra_tokens` (hand-picked domain terms, e.g. from a recipe) are added first; one that collides with a
    special token is refused (RecipeError, before any compute). Trained candidates that collide are dropped.
    """
    extra = list(dict.fromkeys(extra_tokens or []))
    refuse_collisions(base, extra)
    vocab = base.get_vocab()
    extra = [t for t in extra if t not in vocab]
    cands = [t for t, _ in candidates(base, domain_texts, train_vocab_size, min_frequency, coverage, max_new)]
    bad = set(check_special_collisions(base, cands))
    joined = "\n".join(general_texts)
    cands = extra + [t for t in cands if t not in bad and t not in extra and not _common_in(t, joined)]
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
    refuse_collisions(base, cfg.extra_tokens)  # before the model is loaded
    model = None
    if model_dir is not None:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        if model.get_input_embeddings().weight.shape[0] < len(base):
            raise RecipeError(f"{model_dir}: embedding rows ({model.get_input_embeddings().weight.shape[0]}) "
                              f"fewer than the tokenizer in {base_dir} ({len(base)}) (tokenizer and model folders do not match)")
    from adapters.data import split_heldout
    domain = [t for ts in texts_by_kind.values() for t in ts]
    # general text the filter sees is kept apart from the general text we measure, so "never longer" is a
    # claim about unseen text, not about the sample the filter was fitted on
    g_fit, g_measure = split_heldout(general, 0.3)
    tok, kept = augment_tokenizer(base, domain, g_fit, train_vocab_size=cfg.train_vocab_size,
                                  min_frequency=cfg.min_frequency, coverage=cfg.coverage,
                                  max_new=cfg.max_new_tokens, check_chars=cfg.general_check_chars,
                                  extra_tokens=cfg.extra_tokens)
    measure = dict(report_kinds(texts_by_kind), domain=domain, general=g_measure)
    report = {"added": len(kept), "examples": kept[:20], "kind": type(base.backend_tokenizer.model).__name__,
              "base_vocab": len(base), "before": tokens_per_kchar(base, measure),
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
