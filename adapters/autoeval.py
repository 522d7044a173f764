"""AutoEval: k-shot multiple-choice benchmarks scored by the log-likelihood of each choice, plus held-out domain
perplexity. JSONL rows: {"question", "choices": [...], "answer": index or choice text, "category"}.

Run: `chipassist adapt autoeval RECIPE --model DIR` (defaults to the recipe's latest stage output).
"""
from __future__ import annotations

import copy
import math
from collections import defaultdict
from pathlib import Path

import torch

from adapters.config import RecipeError
from corpora.jsonl import read_jsonl


def load_mc(path: Path) -> list[dict]:
    """Multiple-choice rows from an AutoEval JSONL file; ``answer`` may be an index, a letter or the
    choice's text. RecipeError naming the file and line for a bad row."""
    if not Path(path).is_file():
        raise RecipeError(f"AutoEval file {path} not found")
    rows = []
    for n, r in read_jsonl(Path(path), RecipeError):
        if not isinstance(r, dict) or not {"question", "choices", "answer"} <= r.keys():
            raise RecipeError(f"{path}:{n}: needs question, choices and answer")
        ans = r["answer"]
        r["answer"] = r["choices"].index(ans) if isinstance(ans, str) and ans in r["choices"] else \
            "ABCDEFGH".index(ans) if isinstance(ans, str) and len(ans) == 1 else int(ans)
        r.setdefault("category", "all")
        rows.append(r)
    return rows


def _fmt(q: dict, with_answer: bool) -> str:
    s = f"Question: {q['question']}\nAnswer:"
    return s + f" {q['choices'][q['answer']]}\n\n" if with_answer else s


def _extend(model, state: tuple, ids: list[int]) -> tuple[tuple, torch.Tensor]:
    """Run `ids` (which start with the state's prefix) on top of a cached prefix.

    A state is (prefix ids, KV cache, log-probs of the row after the prefix). Returns the new state and the
    log-prob rows predicting ids[len(prefix)+1 ...] preceded by the cached row predicting ids[len(prefix)]."""
    pre, cache, last = state
    dev = next(model.parameters()).device
    out = model(input_ids=torch.tensor([ids[len(pre):]], device=dev),
                cache=copy.deepcopy(cache) if cache is not None else None, use_cache=True)
    rows = torch.log_softmax(out.logits[0].float(), -1)
    rows = torch.cat([last[None], rows]) if last is not None else torch.cat([rows[:1] * float("nan"), rows])
    return (list(ids), out.cache, rows[-1]), rows


_EMPTY = ([], None, None)


@torch.no_grad()
def choice_logprobs(model, tok, prompt: str, choices: list[str], prefix_state: tuple = _EMPTY) -> list[float]:
    """Sum of token log-probabilities of each ` choice` after `prompt`; the prompt runs once and each choice
    continues from its KV cache (`prefix_state`, e.g. the shared few-shot demos, is reused the same way)."""
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    if p_ids[: len(prefix_state[0])] != prefix_state[0]:  # the prefix tokenised differently inside the prompt
        prefix_state = _EMPTY
    q_state, _ = _extend(model, prefix_state, p_ids)
    full = [tok(prompt + " " + c, add_special_tokens=False)["input_ids"] for c in choices]
    if all(ids[: len(p_ids)] == p_ids and len(ids) > len(p_ids) for ids in full):
        return _batched_choices(model, q_state, [ids[len(p_ids):] for ids in full], tok.eos_token_id or 0)
    scores = []
    for ids in full:
        state = q_state if ids[: len(p_ids)] == p_ids else prefix_state  # BPE merged across the boundary
        if ids[: len(state[0])] != state[0]:
            state = _EMPTY
        _, rows = _extend(model, state, ids)
        n0 = len(state[0])  # rows[j] predicts ids[n0 + j]
        scores.append(sum(rows[t - n0, ids[t]].item() for t in range(len(p_ids), len(ids))))
    return scores


def _batched_choices(model, state: tuple, conts: list[list[int]], pad: int) -> list[float]:
    """All choices in one forward pass over the prompt's cache (repeated per choice); right padding leaves the
    real tokens' scores untouched under causal attention."""
    _, cache, last = state
    dev = next(model.parameters()).device
    width = max(map(len, conts))
    x = torch.tensor([c + [pad] * (width - len(c)) for c in conts], device=dev)
    cache = copy.deepcopy(cache)
    cache.batch_repeat_interleave(len(conts))
    logp = torch.log_softmax(model(input_ids=x, cache=cache, use_cache=True).logits.float(), -1)
    return [last[c[0]].item() + sum(logp[i, j - 1, c[j]].item() for j in range(1, len(c)))
            for i, c in enumerate(conts)]


@torch.no_grad()  # the shared demos' KV cache too: a cache built with grad cannot be deep-copied under autocast
def evaluate_mc(model, tok, rows: list[dict], shots: int = 5, desc: str = "autoeval") -> dict:
    """Accuracy per category and overall, raw (summed log-likelihood) and length-normalised (``accuracy_norm``,
    per byte of the choice: what the goals use, since choices of one question differ in length); shots are the first other questions of the same file (the same
    demos for every question past the first `shots`, so their KV cache is computed once)."""
    from tqdm.auto import tqdm
    model.eval()
    hits, hits_norm, totals = defaultdict(int), defaultdict(int), defaultdict(int)
    shared = "".join(_fmt(r, True) for r in rows[:shots])
    shared_state = _extend(model, _EMPTY, tok(shared, add_special_tokens=False)["input_ids"])[0] \
        if shared else _EMPTY
    for i, q in enumerate(tqdm(rows, desc=desc, unit="q", mininterval=5, dynamic_ncols=True)):
        demo = "".join(_fmt(r, True) for r in [r for j, r in enumerate(rows) if j != i][:shots])
        scores = choice_logprobs(model, tok, demo + _fmt(q, False), q["choices"],
                                 shared_state if demo == shared else _EMPTY)
        ok = int(max(range(len(scores)), key=scores.__getitem__) == q["answer"])
        # lm-eval-harness's acc_norm: log-likelihood per byte of the choice, so a longer right answer is not
        # beaten by a short distractor merely for having fewer tokens to pay for
        per_byte = [sc / max(1, len((" " + c).encode())) for sc, c in zip(scores, q["choices"])]
        ok_norm = int(max(range(len(per_byte)), key=per_byte.__getitem__) == q["answer"])
        for cat in (q["category"], "overall"):
            hits[cat] += ok
            hits_norm[cat] += ok_norm
            totals[cat] += 1
    return {c: {"accuracy": round(hits[c] / totals[c], 4), "accuracy_norm": round(hits_norm[c] / totals[c], 4),
                "n": totals[c]} for c in totals}


def heldout_chunks(texts: list[str], n: int, chars: int) -> list[str]:
    """Up to `n` pieces of about `chars` characters from held-out documents, a few per document, fixed order."""
    per_doc = max(1, n // max(len(texts), 1) + 1)
    pieces = [t[i:i + chars] for t in texts for i in range(0, min(len(t), per_doc * chars), chars)]
    return [p for p in pieces if len(p.strip()) > chars // 4][:n]


@torch.no_grad()
def normalized_perplexity(model, tok, chunks: list[str], ref_tok) -> float:
    """exp(total NLL / number of *reference-tokenizer* tokens) over `chunks`: comparable across tokenizers
    (an augmented tokenizer makes fewer, harder tokens, so per-token perplexities are not)."""
    model.eval()
    dev = next(model.parameters()).device
    nll, ref = 0.0, 0
    for c in chunks:
        ids = [tok.eos_token_id] + tok(c, add_special_tokens=False)["input_ids"]  # EOS: every token is predicted
        x = torch.tensor([ids], device=dev)
        nll += model(input_ids=x, labels=x).loss.item() * (len(ids) - 1)
        ref += len(ref_tok(c, add_special_tokens=False)["input_ids"])
    return math.exp(nll / max(ref, 1))


def mc_sets(files: list[Path], optional: list[Path]) -> list[Path]:
    """The required multiple-choice files plus the optional ones that exist."""
    return list(files) + [f for f in optional if Path(f).is_file() and f not in files]


def spread(rows: list, n: int | None) -> list:
    """At most `n` rows taken evenly across the file (so every category keeps its share)."""
    if not n or len(rows) <= n:
        return rows
    return [rows[i * len(rows) // n] for i in range(n)]


def run_autoeval(model_dir: Path, mc_files: list[Path], heldout: dict[str, list[str]], shots: int,
                 ref_tok=None, max_questions: int | None = None, mixed_precision: str = "no") -> dict:
    """MC accuracy per file and category, and base-token-normalised perplexity per held-out set; with
    ``mixed_precision="bf16"`` the forward passes run under bf16 autocast (log-softmax stays fp32)."""
    from adapters.dapt import load_model_and_tokenizer
    model, tok = load_model_and_tokenizer(model_dir)
    report = {"model": str(model_dir), "mc": {}, "mixed_precision": mixed_precision}
    device = next(model.parameters()).device.type
    with torch.autocast(device, dtype=torch.bfloat16, enabled=mixed_precision == "bf16"):
        for f in mc_files:
            report["mc"][Path(f).name] = evaluate_mc(model, tok, spread(load_mc(f), max_questions), shots,
                                                     desc=f"{Path(model_dir).name}:{Path(f).stem}")
        for name, chunks in heldout.items():
            if chunks:
                report[f"{name}_ppl"] = round(normalized_perplexity(model, tok, chunks, ref_tok or tok), 3)
    return report
