"""What a CPU model's prompt budget costs in evidence: tokens evaluated per question against the share of
questions whose gold text reaches the prompt, for several budgets and source-focusing widths.

    python bench/prompt_budget.py                                  # ../shared/corpora's index, the 1.5B tokenizer
    python bench/prompt_budget.py --budgets 550,600,650 --focus 450,700
    python bench/prompt_budget.py --index DIR --queries FILE

No language model runs: each question is retrieved through the product's own path (``assistant.qa.search``,
the shipped retrieval settings) and its prompt is built by ``assistant.prompts.build_prompt`` exactly as
``assistant.qa`` builds it for a CPU backend, counting tokens with the model's own tokenizer (llama.cpp,
vocabulary only). Time to the first token on a CPU is the prompt tokens llama.cpp must evaluate over its
prompt rate; the system prompt is evaluated once at load (``LlamaCppBackend.warm``), so the cost per question
is the tokens after it ("evaluated"). The evidence side has two rates: the gold passage is among the
sources in the prompt (``retriever.evaluate.is_hit``), and the gold's text itself is in the prompt (the
focused windows can cut it out of a source that was kept). A budget is chosen from this table before any
generation run, which then measures answer quality at that budget (bench/qa_llm.py).

Writes bench/out/prompt_budget.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from assistant.prompts import SYSTEM_PROMPT, TEMPLATE_TOKENS, build_prompt  # noqa: E402
from bench.qa_llm import OUT, ensure_index, resolve  # noqa: E402
from bench.retrieval import CORPUS, QUERIES  # noqa: E402
from retriever.evaluate import is_hit, load_queries, normalize  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 140)


def tokenizer(model: str):
    """``count_tokens`` of the model's own vocabulary (llama.cpp loads the GGUF's vocabulary only)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(resolve(model)), vocab_only=True, verbose=False)
    return lambda text: len(llm.tokenize(text.encode(), add_bos=False, special=False))


def measure(questions, hits_of, count_tokens, budget: int, focus: int, max_new: int) -> dict:
    """Prompt size and evidence rates for one (budget, focus) setting over ``questions``; ``max_new`` is
    llm.max_new_tokens (assistant.qa gives the prompt ``budget`` tokens of a ``budget + max_new`` context)."""
    system = count_tokens(SYSTEM_PROMPT) + 2 * TEMPLATE_TOKENS
    evaluated, sources, in_sources, in_prompt, retrieved = [], [], [], [], []
    for q in questions:
        hits = hits_of[q.id]
        prompt = build_prompt(q.query, hits, count_tokens=count_tokens, context_tokens=budget + max_new,
                              max_new_tokens=max_new, focus_chars=focus)
        user = prompt.messages[-1]["content"]
        evaluated.append(count_tokens(user) + TEMPLATE_TOKENS)
        sources.append(prompt.n_sources)
        if any(is_hit(h, q.gold) for h in hits):
            retrieved.append(q.id)
            in_sources.append(any(is_hit(h, q.gold) for h in hits[:prompt.n_sources]))
            text = normalize(user)
            in_prompt.append(any(normalize(g.contains) in text for g in q.gold))
    n = len(questions)
    return {"budget": budget, "focus_chars": focus, "questions": n, "gold_retrieved": len(retrieved),
            "system_tokens": system, "evaluated_mean": sum(evaluated) / n, "evaluated_max": max(evaluated),
            "sources_mean": sum(sources) / n,
            "gold_in_sources": sum(in_sources) / len(retrieved), "gold_text_in_prompt": sum(in_prompt) / len(retrieved)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=OUT / "qa_llm_index")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--queries", type=Path, default=QUERIES)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b", help="whose tokenizer counts the tokens")
    ap.add_argument("--budgets", default="500,550,600,650,700,800")
    ap.add_argument("--focus", default="450,550,700", help="focus_chars per source (shipped: prompts.FOCUS_CHARS)")
    ap.add_argument("--prompt-rate", type=float, default=50.0,
                    help="prompt tokens/s of llama.cpp on the target machine, for the first-token estimate")
    args = ap.parse_args()

    from assistant.config import load_settings
    from assistant.qa import search
    from assistant.service import Assistant

    ensure_index(args.index, args.corpus)
    bot = Assistant(load_settings(None, index_dir=args.index, llm={"backend": "none"}))
    questions = load_queries(args.queries)
    started = time.perf_counter()
    hits_of = {q.id: search(bot, q.query) for q in questions}
    console.print(f"retrieved {len(questions)} questions in {time.perf_counter() - started:.1f} s")
    count = tokenizer(args.model)
    max_new = bot.settings.llm.max_new_tokens
    rows = [measure(questions, hits_of, count, b, f, max_new)
            for f in (int(x) for x in args.focus.split(",")) for b in (int(x) for x in args.budgets.split(","))]

    table = Table(title=f"prompt budget vs evidence ({len(questions)} questions, {args.model} tokens; "
                        f"first token at {args.prompt_rate:g} prompt tokens/s)")
    for col in ("focus chars", "budget", "evaluated mean / max", "est. first token s", "sources", "gold in sources",
                "gold text in prompt"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["focus_chars"]), str(r["budget"]), f"{r['evaluated_mean']:.0f} / {r['evaluated_max']}",
                      f"{r['evaluated_mean'] / args.prompt_rate:.1f}", f"{r['sources_mean']:.1f}",
                      f"{r['gold_in_sources']:.0%}", f"{r['gold_text_in_prompt']:.0%}")
    console.print(table)
    console.print(f"gold retrieved in the top {bot.settings.retrieval.k} for {rows[0]['gold_retrieved']} of "
                  f"{len(questions)} questions (the rates are over those); system prompt {rows[0]['system_tokens']} "
                  "tokens, evaluated once at load")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "prompt_budget.json"
    path.write_text(json.dumps({"model": args.model, "queries": str(args.queries), "rows": rows}, indent=1))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
