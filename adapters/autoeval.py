"""AutoEval: k-shot multiple-choice benchmarks scored by the log-likelihood of each choice, plus held-out domain
perplexity. JSONL rows: {"question", "choices": [...], "answer": index or choice text, "category"}.

Run: `chipassist adapt autoeval RECIPE --model DIR` (defaults to the recipe's latest stage output).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import torch

from adapters.config import RecipeError


def load_mc(path: Path) -> list[dict]:
    """Multiple-choice rows from an AutoEval JSONL file; ``answer`` may be an index, a letter or the
    choice's text. RecipeError naming the file and line for a bad row."""
    if not Path(path).is_file():
        raise RecipeError(f"AutoEval file {path} not found")
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        r = json.loads(line)
        if not {"question", "choices", "answer"} <= r.keys():
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


@torch.no_grad()
def choice_logprobs(model, tok, prompt: str, choices: list[str]) -> list[float]:
    """Sum of token log-probabilities of each ` choice` after `prompt`."""
    dev = next(model.parameters()).device
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    scores = []
    for c in choices:
        c_ids = tok(prompt + " " + c, add_special_tokens=False)["input_ids"][len(p_ids):]
        ids = torch.tensor([p_ids + c_ids], device=dev)
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        tgt = ids[0, 1:]
        scores.append(logp[len(p_ids) - 1:].gather(1, tgt[len(p_ids) - 1:, None]).sum().item())
    return scores


def evaluate_mc(model, tok, rows: list[dict], shots: int = 5) -> dict:
    """Accuracy per category and overall; shots are the first other questions of the same file."""
    model.eval()
    hits, totals = defaultdict(int), defaultdict(int)
    for i, q in enumerate(rows):
        demo = "".join(_fmt(r, True) for r in [r for j, r in enumerate(rows) if j != i][:shots])
        scores = choice_logprobs(model, tok, demo + _fmt(q, False), q["choices"])
        ok = int(max(range(len(scores)), key=scores.__getitem__) == q["answer"])
        for cat in (q["category"], "overall"):
            hits[cat] += ok
            totals[cat] += 1
    return {c: {"accuracy": round(hits[c] / totals[c], 4), "n": totals[c]} for c in totals}


def run_autoeval(model_dir: Path, mc_files: list[Path], heldout: list[str], shots: int, block_size: int,
                 max_blocks: int) -> dict:
    """Score one model: multiple-choice accuracy per file and category (few-shot) and the perplexity
    on held-out domain text."""
    from adapters.dapt import eval_batches, load_model_and_tokenizer
    from adapters.data import pack
    from adapters.trainer import perplexity
    model, tok = load_model_and_tokenizer(model_dir)
    report = {"model": str(model_dir), "mc": {}}
    for f in mc_files:
        report["mc"][Path(f).name] = evaluate_mc(model, tok, load_mc(f), shots)
    if heldout:
        report["domain_ppl"] = round(perplexity(model, eval_batches(pack(heldout, tok, block_size), max_blocks)), 3)
    return report
