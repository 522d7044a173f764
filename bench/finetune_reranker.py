"""Reranker benchmark: a cross-encoder trained on a corpus's derived pairs, scored as the hybrid's 2nd stage.

    python bench/finetune_reranker.py --base-index DIR [--pairs FILE] [--work DIR] [--negatives 3]
        [--epochs 1] [--lr 1e-4] [--max-length 128] [--candidates 20] [--reranker DIR]   # DIR: reuse a model

No cross-encoder weights can be downloaded here, so the only reranker a team gets offline is one trained on
its own corpus. This measures that lever of the retriever fine-tuning issue: a ``CrossEncoder`` initialised
from the same all-MiniLM-L6-v2 weights (a new scoring head) is trained with sentence-transformers'
``CrossEncoderTrainer`` and ``BinaryCrossEntropyLoss`` on the pairs ``chipassist retriever gen-pairs`` derives
(each positive against its mined hard negatives), then plugged in the product way (``IndexConfig.reranker``,
``search(rerank=True)``, top ``--candidates`` of the hybrid). Scored in the same run: the hybrid alone, the
hybrid reranked, and the reranker's order fused with the hybrid's by RRF; on the held-out derived pairs (does
the cross-encoder learn the task it was given?) and on the question files (does that carry over to questions
engineers ask? never read before the last step). Prints a table with ratios, writes
bench/out/finetune_reranker.json.
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

OUT = ROOT / "bench" / "out"
QUERIES = {"written": ROOT / "bench" / "queries" / "shared.jsonl",
           "judged": ROOT / "bench" / "queries" / "shared-judged.jsonl"}
ORDERS = ("hybrid", "reranked", "rrf(hybrid, reranked)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-index", type=Path, required=True, help="an index built with the default settings")
    ap.add_argument("--pairs", type=Path, help="reuse a gen-pairs file (made from --base-index)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/chipassist-reranker-bench"))
    ap.add_argument("--max-pairs", type=int, default=3000)
    ap.add_argument("--negatives", type=int, default=3, help="hard negatives per pair (label 0)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-4, help="5e-5 left the new head at chance for 150 steps")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128, help="training window; scoring uses 256")
    ap.add_argument("--candidates", type=int, default=20, help="hybrid results the reranker re-scores")
    ap.add_argument("--reranker", type=Path, help="reuse a trained cross-encoder folder (skip training)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from retriever.finetune.config import PairsConfig
    from retriever.finetune.gen_pairs import generate_pairs, read_pairs, write_pairs
    from retriever.index import Index

    args.work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    base = Index.open(args.base_index)
    t = time.monotonic()
    pairs = args.pairs or args.work / "pairs.jsonl"
    if not args.pairs:
        rows, _ = generate_pairs(base, PairsConfig(max_pairs=args.max_pairs, num_negatives=args.negatives))
        write_pairs(rows, pairs)
        timings["gen-pairs"] = time.monotonic() - t
    rows = list(read_pairs(pairs))
    train_rows = [r for r in rows if r["split"] == "train"]
    heldout = [r for r in rows if r["split"] != "train"]

    model_dir = args.reranker or args.work / "reranker"
    steps = None
    if not args.reranker:
        t = time.monotonic()
        steps = train_cross_encoder(train_rows, model_dir, args)
        timings["train"] = time.monotonic() - t

    # one open index serves both orders: the reranker only acts on search(rerank=True)
    base.config = base.config.model_copy(update={"reranker": model_dir, "rerank_candidates": args.candidates})
    t = time.monotonic()
    held = [(r["query"], {r["chunk_id"]}) for r in heldout]
    results = {"held-out derived pairs": score(base, held, args.candidates, by_id=True)}
    timings["score held-out"] = time.monotonic() - t
    from retriever.evaluate import load_queries

    for name, path in QUERIES.items():  # read only now: the questions never shape training
        qs = load_queries(path)
        results[f"questions, {name} key"] = score(base, [(q.query, q.gold) for q in qs],
                                                  args.candidates)
    summary = {"index": str(args.base_index), "pairs": str(pairs), "train_pairs": len(train_rows),
               "heldout_pairs": len(heldout), "negatives": args.negatives, "steps": steps, "lr": args.lr,
               "max_length": args.max_length, "candidates": args.candidates,
               "timings_s": {k: round(v, 1) for k, v in timings.items()}, "results": results}
    print_table(summary)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "finetune_reranker.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {OUT / 'finetune_reranker.json'}")


def train_cross_encoder(rows: list[dict], out: Path, args) -> int:
    """Train a cross-encoder on (query, positive: 1, each negative: 0); saves it to ``out``; returns steps."""
    import random

    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (CrossEncoder, CrossEncoderTrainer,
                                                     CrossEncoderTrainingArguments)
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from retriever.embedder import default_model_path

    examples = [(r["query"], r["positive"], 1.0) for r in rows]
    examples += [(r["query"], n, 0.0) for r in rows for n in r["negatives"][:args.negatives]]
    random.Random(13).shuffle(examples)
    data = Dataset.from_dict({"query": [e[0] for e in examples], "passage": [e[1] for e in examples],
                              "label": [e[2] for e in examples]})
    model = CrossEncoder(str(default_model_path()), num_labels=1, max_length=args.max_length, device="cpu",
                         local_files_only=True)
    # positives are 1 in (negatives + 1) examples: weigh them up so the head does not settle on "never".
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(float(max(1, args.negatives))))
    targs = CrossEncoderTrainingArguments(
        output_dir=str(args.work / "reranker-checkpoints"), num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size, learning_rate=args.lr, warmup_steps=0.1,
        logging_steps=50, save_strategy="no", report_to=[], seed=13, use_cpu=True)
    trainer = CrossEncoderTrainer(model=model, args=targs, train_dataset=data, loss=loss)
    trainer.train()
    model.max_seq_length = 256  # train on 128 tokens for speed, score whole chunks like the bi-encoder does
    model.save_pretrained(str(out))
    return trainer.state.global_step


def score(index, items: list[tuple[str, object]], candidates: int, *, by_id: bool = False) -> dict:
    """hit@1/5/10 and MRR@10 of the three orders of the same hybrid top ``candidates`` per query
    (``index.config.reranker`` set)."""
    from retriever.evaluate import first_hit_rank, rank_metrics

    ranks: dict[str, list[int | None]] = {o: [] for o in ORDERS}
    for query, gold in items:
        hybrid = index.search(query, k=candidates)
        reranked = index.search(query, k=candidates, rerank=True)
        for order, hits in zip(ORDERS, (hybrid, reranked, rrf(hybrid, reranked))):
            if by_id:
                rank = next((i for i, h in enumerate(hits, 1) if h.chunk.id in gold), None)
            else:
                rank = first_hit_rank(hits, gold)
            ranks[order].append(rank)
    return {o: rank_metrics(rs) for o, rs in ranks.items()}


def rrf(first: list, second: list, k: int = 60) -> list:
    """Two orders of the same hits fused by ``retriever.fusion``'s RRF (the classic k=60; ties keep
    ``first``'s order)."""
    import numpy as np

    from retriever.fusion import fuse

    position = {h.chunk.id: i for i, h in enumerate(first)}
    ranking = [np.asarray([position[h.chunk.id] for h in hits], dtype=np.int64) for hits in (first, second)]
    fused = fuse("rrf", *((ids, np.zeros(len(ids), np.float32)) for ids in ranking), rrf_k=k)
    return [first[i] for i, _ in fused]


def print_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"cross-encoder trained on {summary['train_pairs']} derived pairs "
                        f"({summary['steps']} steps), reranking the hybrid top {summary['candidates']}")
    for col in ("scored on", "order", "hit@1", "hit@5", "hit@10", "mrr@10", "hit@1 vs hybrid"):
        table.add_column(col, justify="left" if col in ("scored on", "order") else "right")
    for name, res in summary["results"].items():
        base1 = res["hybrid"]["hit@1"]
        for order in ORDERS:
            m = res[order]
            table.add_row(name, order, *(f"{m[k]:.3f}" for k in ("hit@1", "hit@5", "hit@10", "mrr@10")),
                          f"{m['hit@1'] / base1:.2f}x" if base1 else "-")
    console = Console()
    console.print(table)
    console.print(f"timings (s): {summary['timings_s']}")


if __name__ == "__main__":
    main()
