"""Benchmark: bug assignment top-1 / top-3 accuracy, leave-one-out over resolved bugs, vs the baseline.

    python bench/bug_assign.py [--synthetic-n 1000] [--seed 0] [--out bench/out]

Two exports: the shipped one (corpora/sample/bugs/bugs.jsonl) and a synthetic one generated here
(bench/gen_synthetic_bugs.py: ~1,000 bugs, 10 components, 25 engineers, ownership drift, specialists,
cross-component bugs). Methods, all measured in the same run on the same embeddings:

- baseline: the majority owner(s) of the bug's component;
- component: time-weighted component ownership alone (alpha = 0);
- neighbours: nearest resolved bugs alone (alpha = 1, no prior);
- fused: the shipped default (`AssignConfig()`).

Prints a table with ratios to the baseline and writes bench/out/bug_assign.png and bug_assign.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from assistant.bugs.assign import AssignConfig, BugEmbeddings  # noqa: E402
from assistant.bugs.evaluate import leave_one_out  # noqa: E402
from bench.gen_synthetic_bugs import generate  # noqa: E402
from corpora.bugs import load_bug_export  # noqa: E402
from corpora.types import BugRecord  # noqa: E402

METHODS = {"component": AssignConfig(alpha=0.0), "neighbours": AssignConfig(alpha=1.0, neighbour_prior=0.0),
           "fused": AssignConfig()}


def run(exports: dict[str, list[BugRecord]], cache: Path) -> dict[str, dict]:
    results = {}
    for name, bugs in exports.items():
        t0 = time.perf_counter()
        vectors = BugEmbeddings(cache).embed(bugs)
        t1 = time.perf_counter()
        results[name] = leave_one_out(bugs, vectors, METHODS)
        results[name]["_timing"] = {"embed_s": t1 - t0, "rank_s": time.perf_counter() - t1, "bugs": len(bugs)}
    return results


def print_table(results: dict[str, dict], console: Console) -> None:
    table = Table("export", "held out", "method", "top-1", "x baseline", "top-3", "x baseline", header_style="bold")
    for export, res in results.items():
        base = res["baseline"]
        for method in ["baseline", *METHODS]:
            r = res[method]
            table.add_row(export, str(r["n"]), method, f"{r['top1']:.3f}", _ratio(r["top1"], base["top1"]),
                          f"{r['top3']:.3f}", _ratio(r["top3"], base["top3"]))
    console.print(table)
    for export, res in results.items():
        t = res["_timing"]
        console.print(f"{export}: {t['bugs']} bugs, embedding {t['embed_s']:.1f} s, leave-one-out ranking {t['rank_s']:.1f} s")


def _ratio(x: float, base: float) -> str:
    return f"{x / base:.2f}x" if base else "n/a"


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = ["baseline", *METHODS]
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (export, res) in zip(axes[0], results.items()):
        xs = range(len(methods))
        ax.bar([x - 0.2 for x in xs], [res[m]["top1"] for m in methods], 0.4, label="top-1")
        ax.bar([x + 0.2 for x in xs], [res[m]["top3"] for m in methods], 0.4, label="top-3")
        ax.set_xticks(list(xs), methods)
        ax.set_ylim(0, 1)
        ax.set_title(f"{export} ({res['baseline']['n']} held-out resolved bugs)")
        ax.set_ylabel("accuracy")
        ax.legend(loc="lower right")
    fig.suptitle("Bug assignment, leave-one-out")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shipped", type=Path, default=ROOT / "corpora/sample/bugs/bugs.jsonl")
    ap.add_argument("--synthetic-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    console = Console()
    exports: dict[str, list[BugRecord]] = {}
    if args.shipped.is_file():
        shipped = load_bug_export(args.shipped)
        for p in shipped.problems:
            console.print(f"[yellow]problem:[/] {p}")
        exports["shipped"] = shipped.records
    else:
        console.print(f"[yellow]{args.shipped} not found; synthetic export only[/]")
    exports["synthetic"] = [BugRecord.model_validate(b) for b in generate(args.synthetic_n, args.seed)]
    results = run(exports, args.out / "bug_embeddings.sqlite")
    print_table(results, console)
    plot(results, args.out / "bug_assign.png")
    (args.out / "bug_assign.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    console.print(f"wrote {args.out / 'bug_assign.png'} and {args.out / 'bug_assign.json'}")


if __name__ == "__main__":
    main()
