"""`chipassist eval retrieval`: score an index against a JSONL question file (hit@k, MRR@10, latency, misses).

    chipassist eval retrieval --index DIR --queries bench/queries/shared.jsonl [--json] [-k 10]
"""
from __future__ import annotations

from pathlib import Path

import typer

from assistant.cli.common import (ConfigOpt, IndexOpt, JsonOpt, console, eval_inputs, open_index, parse_groups,
                                  print_json, settings_from)

eval_app = typer.Typer(help="Evaluate ChipAssist components against question sets.", no_args_is_help=True)


@eval_app.command("retrieval")
def retrieval(
    queries: Path = typer.Option(..., "--queries", help="JSONL file: {id, query, gold: [{source, contains}]}."),
    index: Path | None = IndexOpt,
    config: Path | None = ConfigOpt,
    k: int = typer.Option(10, "-k", "--k", min=1, help="A query whose gold is not in the top k is a miss."),
    mode: str | None = typer.Option(None, "--mode", help="hybrid, dense or bm25 (default: from settings)."),
    rerank: bool = typer.Option(False, "--rerank", help="Use the cross-encoder reranker."),
    user_groups: str | None = typer.Option(None, "--user-groups", help="Comma-separated groups (default: public)."),
    as_json: bool = JsonOpt,
) -> None:
    """Report hit@1/5/10, MRR@10, latency p50/p95 and the misses of an index on a question file."""
    from retriever.evaluate import evaluate

    settings = settings_from(index, config)
    mode, qs = eval_inputs(settings, mode, queries)
    idx = open_index(settings.index_dir)
    report = evaluate(idx, qs, k=k, progress=not as_json, mode=mode, rerank=rerank,
                      user_groups=parse_groups(user_groups))
    if as_json:
        print_json(report.to_dict())
    else:
        _print_report(report, len(qs), k, queries, settings.index_dir)


def _print_report(report, n: int, k: int, queries: Path, index_dir: Path) -> None:
    from rich.table import Table

    table = Table(title=f"retrieval: {queries} ({n} questions) on {index_dir}")
    for col in ("hit@1", "hit@5", "hit@10", "mrr@10", "p50 ms", "p95 ms"):
        table.add_column(col, justify="right")
    d = report.to_dict()
    table.add_row(*(f"{d[key]:.3f}" for key in ("hit@1", "hit@5", "hit@10", "mrr@10")),
                  f"{d['p50_ms']:.1f}", f"{d['p95_ms']:.1f}")
    console.print(table)
    if not report.misses:
        return
    misses = Table(title=f"misses (gold not in top {k})", show_lines=True)
    misses.add_column("id")
    misses.add_column("query")
    misses.add_column("gold")
    misses.add_column("top results")
    for m in report.misses:
        gold = "\n".join(f"{g['source']}: “{g['contains']}”" for g in m["gold"])
        top = "\n".join(f"{t['rank']}. {t['source']}" for t in m["top"][:3])
        misses.add_row(m["id"], m["query"], gold, top)
    console.print(misses)


def register(app: typer.Typer) -> None:
    """Add the `eval` commands (`eval retrieval`) to ``app``."""
    app.add_typer(eval_app, name="eval")
