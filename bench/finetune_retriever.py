"""Retriever fine-tuning benchmark: base MiniLM vs the domain-tuned model, on the same corpus, in one run.

    python bench/finetune_retriever.py [--corpus ../shared/corpora] [--queries bench/queries/shared.jsonl]
        [--base-index DIR] [--work DIR] [--max-pairs 3000] [--loss mnrl] [--max-minutes 18] [--threads 2]
        [--pairs FILE] [--model DIR] [--tuned-index DIR]      # reuse earlier steps' outputs
    python bench/finetune_retriever.py --base-index DIR --pairs FILE --compare-losses mnrl,gist,cached --steps 30

Steps (each timed): index the corpus with the base model (or reuse ``--base-index``), generate derived pairs
from that index (``retriever.finetune.gen_pairs``; the question file is never read before the last step),
train (``retriever.finetune.train``), index the same roots with the tuned model, then score both indexes on
the question file with ``retriever.evaluate`` in the default search configuration (hybrid) and dense-only.
Prints a table with tuned/base ratios and the goal check (hit@1 >= 1.3x base, hit@5 >= 0.92), writes
bench/out/finetune_retriever.json and bench/out/finetune_retriever.png.
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
MODES = ("hybrid", "dense")
SHOWN = ("hit@1", "hit@5", "hit@10", "mrr@10")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora")
    ap.add_argument("--queries", type=Path, default=ROOT / "bench" / "queries" / "shared.jsonl")
    ap.add_argument("--base-index", type=Path, help="an index of --corpus built with the base model (reused)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/chipassist-finetune-bench"))
    ap.add_argument("--max-pairs", type=int, default=3000)
    ap.add_argument("--loss", default="mnrl", choices=["mnrl", "cached", "gist"])
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-minutes", type=float, default=18.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--merge", type=float, default=0.5, help="weight of the tuned model averaged with the base")
    ap.add_argument("--negatives", type=int, default=1, help="hard negatives per pair")
    ap.add_argument("--pairs", type=Path, help="reuse a pairs file (from gen-pairs on the base index)")
    ap.add_argument("--model", type=Path, help="reuse a tuned model folder (skip training)")
    ap.add_argument("--tuned-index", type=Path, help="reuse an index of --corpus built with --model")
    ap.add_argument("--compare-losses", help="comma list (mnrl,gist,cached): train each for --steps on the same "
                                             "pairs and compare held-out metrics only (no re-indexing)")
    ap.add_argument("--steps", type=int, default=30, help="steps per loss for --compare-losses")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from retriever.evaluate import load_queries
    from retriever.finetune.compare import compare, reembed
    from retriever.finetune.config import PairsConfig, TrainConfig
    from retriever.finetune.gen_pairs import generate_pairs, write_pairs
    from retriever.finetune.train import train_model
    from retriever.index import Index, build_index

    args.work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t = time.monotonic()
    base_dir = args.base_index or args.work / "base-index"
    if not args.base_index:
        build_index([args.corpus], base_dir)
    base = Index.open(base_dir)
    timings["base index"] = time.monotonic() - t

    t = time.monotonic()
    pairs = args.pairs or args.work / "pairs.jsonl"
    if args.pairs:
        pairs_report = {"reused": str(pairs)}
    else:
        rows, report = generate_pairs(base, PairsConfig(max_pairs=args.max_pairs, num_negatives=args.negatives))
        write_pairs(rows, pairs)
        pairs_report = report.to_dict()
        timings["gen-pairs"] = time.monotonic() - t
    print(f"pairs: {pairs_report}", flush=True)

    train_cfg = TrainConfig(loss=args.loss, epochs=args.epochs, max_minutes=args.max_minutes,
                            threads=args.threads, learning_rate=args.lr, merge=args.merge)
    if args.compare_losses:
        compare_losses(pairs, args, train_cfg)
        return
    t = time.monotonic()
    model_dir = args.model or args.work / f"tuned-{args.loss}"
    if args.model:
        train_report = json.loads((model_dir / "chipassist-finetune.json").read_text())["report"]
    else:
        train_report = train_model(pairs, model_dir, train_cfg).to_dict()
        timings["train"] = time.monotonic() - t
    print(f"train: {train_report}", flush=True)

    t = time.monotonic()
    if args.tuned_index:
        tuned = Index.open(args.tuned_index)
    else:
        tuned = reembed(base, model_dir, args.work / f"tuned-index-{args.loss}")
        timings["tuned index"] = time.monotonic() - t

    queries = load_queries(args.queries)  # read only now: it never influences the training data
    results = {mode: compare({"base": base, "tuned": tuned}, queries, mode=mode) for mode in MODES}
    summary = {"corpus": str(args.corpus), "queries": str(args.queries), "chunks": len(base),
               "pairs": pairs_report, "train": train_report, "loss": args.loss, "lr": args.lr,
               "timings_s": {k: round(v, 1) for k, v in timings.items()}, "results": results}
    summary["goal"] = goal(results["hybrid"])
    print_table(summary)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "finetune_retriever.json").write_text(json.dumps(summary, indent=2))
    plot(results, OUT / "finetune_retriever.png", args.loss)
    print(f"wrote {OUT / 'finetune_retriever.json'} and {OUT / 'finetune_retriever.png'}")


def compare_losses(pairs: Path, args, base_cfg) -> None:
    """Each loss trained for the same number of steps on the same pairs; held-out split metrics and time."""
    from retriever.finetune.train import train_model

    rows = {}
    for loss in args.compare_losses.split(","):
        t = time.monotonic()
        cfg = base_cfg.model_copy(update={"loss": loss, "max_steps": args.steps, "eval_every": args.steps,
                                          "max_minutes": 600.0,
                                          "merge": 1.0})  # the losses themselves, unaveraged
        r = train_model(pairs, args.work / f"cmp-{loss}", cfg).to_dict()
        rows[loss] = {"seconds": round(time.monotonic() - t, 1), "steps": r["steps"], "base": r["base"],
                      "best": r["best"]}
        print(loss, rows[loss], flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "finetune_losses.json").write_text(json.dumps(rows, indent=2))
    print("| loss | steps | seconds | held-out hit@1 | hit@5 | mrr@10 | ndcg@10 |")
    print("|---|---|---|---|---|---|---|")
    first = next(iter(rows.values()))["base"]
    print(f"| base (no training) | 0 | | {first.get('hit@1')} | {first.get('hit@5')} | {first.get('mrr@10')} | "
          f"{first.get('ndcg@10')} |")
    for loss, r in rows.items():
        b = r["best"]
        print(f"| {loss} | {r['steps']} | {r['seconds']} | {b.get('hit@1')} | {b.get('hit@5')} | {b.get('mrr@10')} | "
              f"{b.get('ndcg@10')} |")


def goal(r: dict) -> dict:
    base1, tuned1 = r["base"]["hit@1"], r["tuned"]["hit@1"]
    ratio = tuned1 / base1 if base1 else None
    return {"hit@1_ratio": ratio, "hit@1_goal_met": bool(ratio and ratio >= 1.3),
            "hit@5": r["tuned"]["hit@5"], "hit@5_goal_met": r["tuned"]["hit@5"] >= 0.92}


def print_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"retriever fine-tuning on {summary['chunks']} chunks ({summary['loss']}, "
                        f"{summary['train']['train_pairs']} train pairs, {summary['train']['steps']} steps)")
    table.add_column("mode")
    table.add_column("model")
    for m in SHOWN:
        table.add_column(m, justify="right")
    for mode, res in summary["results"].items():
        for name in ("base", "tuned"):
            table.add_row(mode, name, *(f"{res[name][m]:.3f}" for m in SHOWN))
        table.add_row(mode, "tuned/base", *(f"{res['tuned'][m] / res['base'][m]:.2f}x" if res["base"][m] else "-"
                                            for m in SHOWN))
    console = Console()
    console.print(table)
    console.print(f"timings (s): {summary['timings_s']}; held-out during training: {summary['train']['base']} "
                  f"-> {summary['train']['best']}")
    console.print(f"goal (hybrid): {summary['goal']}")


def plot(results: dict, path: Path, loss: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), sharey=True)
    for ax, (mode, res) in zip(axes, results.items()):
        x = range(len(SHOWN))
        ax.bar([i - 0.2 for i in x], [res["base"][m] for m in SHOWN], 0.4, label="base MiniLM")
        ax.bar([i + 0.2 for i in x], [res["tuned"][m] for m in SHOWN], 0.4, label=f"tuned ({loss})")
        ax.set_xticks(list(x), SHOWN)
        ax.set_title(f"{mode} search")
        ax.axhline(0.92, ls=":", c="grey")
        ax.set_ylim(0, 1)
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
