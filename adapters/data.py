"""Training text for adaptation: corpus text per kind, general text, packed blocks, and chat SFT examples.

Domain text comes from `corpora.ingest` (falls back to reading files directly until that module lands).
General text is the Python standard library's docstrings ("stdlib", present wherever Python is; PSF licence)
or a text file/folder you name. Blocks are fixed-length token windows over documents joined with EOS.
"""
from __future__ import annotations

import hashlib
import importlib
import pkgutil
import random
from pathlib import Path

import torch

from adapters.config import RecipeError

# A fixed module list keeps the general text the same run to run.
_STDLIB = ("collections", "json", "pathlib", "argparse", "logging", "subprocess", "itertools", "functools",
           "datetime", "random", "statistics", "textwrap", "string", "re", "csv", "email", "http", "urllib",
           "unittest", "typing", "asyncio", "shutil", "tarfile", "zipfile", "sqlite3", "xml", "decimal",
           "fractions", "calendar", "difflib", "heapq", "bisect", "enum", "inspect", "pickle", "queue", "socket",
           "threading", "configparser", "tempfile", "glob", "fnmatch", "gettext", "locale", "pdb", "doctest")


def curated_documents(roots: list[Path], acl_groups=("public",)) -> list:
    """corpora.Documents under `roots` (same files, exclusions and secret scrubbing as indexing) that a user of
    `acl_groups` may see; raises RecipeError for a missing root."""
    roots = [Path(r) for r in roots]
    for root in roots:
        if not root.exists():
            raise RecipeError(f"data.domain_roots: {root} does not exist")
    from corpora.ingest import ingest
    from corpora.types import visible

    return [d for d in ingest(roots, progress=False).documents if visible(d.acl, acl_groups) and d.text.strip()]


def load_domain(roots: list[Path], acl_groups=("public",)) -> list[tuple[str, str]]:
    """(kind, text) for every curated document under `roots` visible to `acl_groups`; RecipeError when empty."""
    docs = [(d.kind, d.text) for d in curated_documents(roots, acl_groups)]
    docs = [(k, t) for k, t in docs if t.strip()]
    if not docs:
        raise RecipeError(f"data.domain_roots: no usable documents under {', '.join(map(str, roots))}")
    return docs


def recipe_domain(data) -> list[tuple[str, str]]:
    """(kind, text) of the recipe's domain text: ACL-filtered, blended by `data.kind_weights` (a deterministic
    content-hash sample per kind, as ChipNeMo down-samples RTL) and capped at `data.max_domain_chars`.
    RecipeError, before any compute, when nothing is left after the ACL filter."""
    roots = data.roots()
    key = (tuple(map(str, roots)), tuple(data.acl_groups))
    if key not in _DOMAIN_CACHE:  # ingesting a real corpus takes seconds; every stage asks for it
        try:
            _DOMAIN_CACHE[key] = load_domain(roots, data.acl_groups)
        except RecipeError as e:
            raise RecipeError(f"{e} visible to ACL groups {list(data.acl_groups)} (data.acl_groups): "
                              "no domain text left after ACL filtering") from e
    docs = []
    for kind, text in _DOMAIN_CACHE[key]:
        w = data.kind_weights.get(kind, 1.0)
        if w >= 1 or int(hashlib.sha256(text.encode()).hexdigest()[8:16], 16) / 0xFFFFFFFF < w:
            docs.append((kind, text))
    if data.max_domain_chars:
        kept, total = [], 0
        for kind, text in sorted(docs, key=lambda d: hashlib.sha256(d[1].encode()).hexdigest()):
            if total < data.max_domain_chars:
                kept.append((kind, text[: data.max_domain_chars - total]))
                total += len(kept[-1][1])
        docs = kept
    if not docs:
        raise RecipeError("data.kind_weights: every domain document was sampled away")
    return docs


_DOMAIN_CACHE: dict = {}


def load_general(source: str, max_chars: int) -> list[str]:
    """General (non-domain) documents: stdlib docstrings or the text files at `source`."""
    if source == "stdlib":
        docs: list[str] = []
        for name in _STDLIB:
            mod = importlib.import_module(name)
            objs = [mod] + [getattr(mod, a) for a in sorted(dir(mod)) if not a.startswith("_")]
            if hasattr(mod, "__path__"):
                for info in pkgutil.iter_modules(mod.__path__):
                    if info.name.startswith("_"):  # __main__ modules run code on import
                        continue
                    try:
                        objs.append(importlib.import_module(f"{name}.{info.name}"))
                    except Exception:  # optional submodules (e.g. platform-specific) may not import
                        continue
            for obj in objs:
                doc = getattr(obj, "__doc__", None)
                if isinstance(doc, str) and len(doc) > 80 and doc not in docs:
                    docs.append(doc.strip())
    else:
        path = Path(source)
        if not path.exists():
            raise RecipeError(f"data.general: {path} does not exist")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        docs = [f.read_text(errors="replace") for f in files]
    out, total = [], 0
    for d in docs:
        if total >= max_chars:
            break
        out.append(d[: max_chars - total])
        total += len(out[-1])
    return out


def split_heldout(docs: list, fraction: float) -> tuple[list, list]:
    """Deterministic train/held-out split by content hash (so reruns and resumes see the same split)."""
    train, held = [], []
    for d in docs:
        text = d[1] if isinstance(d, tuple) else d
        h = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (held if h < fraction else train).append(d)
    if not held and len(train) > 1:
        held.append(train.pop())
    return train, held


def pack(texts: list[str], tokenizer, block_size: int) -> torch.Tensor:
    """Tokenize, join documents with EOS and cut into [n, block_size] blocks (the tail is dropped)."""
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for t in texts:
        ids.extend(tokenizer(t, add_special_tokens=False)["input_ids"])
        ids.append(eos)
    n = len(ids) // block_size
    if n == 0:  # a tiny corpus still yields one (wrapped) block rather than nothing
        ids = (ids * (block_size // max(len(ids), 1) + 1))[:block_size]
        n = 1
    return torch.tensor(ids[: n * block_size]).view(n, block_size)


def mix(domain: torch.Tensor, general: torch.Tensor, ratio: float, seed: int) -> torch.Tensor:
    """Blend blocks so `ratio` of the result is general text (sampling general blocks with repetition)."""
    n_gen = round(ratio / (1 - ratio) * len(domain)) if ratio > 0 and len(general) else 0
    g = torch.Generator().manual_seed(seed)
    picked = general[torch.randint(len(general), (n_gen,), generator=g)] if n_gen else general[:0]
    blocks = torch.cat([domain, picked])
    return blocks[torch.randperm(len(blocks), generator=g)]


def chat_example(tokenizer, messages: list[dict], max_len: int) -> dict:
    """Tokenize a conversation with the chat template: {input_ids, labels, cut}; labels are -100 except on
    assistant replies, and ``cut`` says the conversation was longer than ``max_len`` tokens. An
    assistant message with ``"weight": 0`` (axolotl's convention) is context, not learnt: a repair row's earlier,
    failing script must not be taught."""
    text = tokenizer.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in messages],
                                         tokenize=False)
    spans = []  # character spans of learnt assistant content inside the rendered text
    pos = 0
    for m in messages:
        if m["role"] == "assistant":
            start = text.index(m["content"], pos)
            if m.get("weight", 1):
                spans.append((start, start + len(m["content"])))
            pos = start + len(m["content"])
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    for tid, (a, b) in zip(enc["input_ids"], enc["offset_mapping"]):
        inside = any(s <= a and b <= e + 1 and b > a for s, e in spans)
        labels.append(tid if inside else -100)
    # the EOS right after an assistant reply is learned too, so the model knows when to stop
    ids = enc["input_ids"]
    for i in range(1, len(ids)):
        if ids[i] == tokenizer.eos_token_id and labels[i - 1] != -100:
            labels[i] = ids[i]
    return {"input_ids": ids[:max_len], "labels": labels[:max_len], "cut": len(ids) > max_len}


def sft_mix(domain: list, general: list, ratio: float, seed: int) -> list:
    """Domain samples plus enough general ones that `ratio` of the set is general, shuffled."""
    rng = random.Random(seed)
    n_gen = min(len(general), round(ratio / (1 - ratio) * len(domain))) if ratio > 0 else 0
    out = list(domain) + rng.sample(list(general), n_gen)
    rng.shuffle(out)
    return out
