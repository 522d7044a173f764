"""`chipassist retriever`: fine-tune the dense retriever on the indexed corpus, and compare it with the base.

    chipassist retriever gen-pairs --index DIR [--out pairs.jsonl] [--backend openai --base-url URL] [--max-pairs N]
                                   [--groups team]   # default: public chunks only
    chipassist retriever train --pairs pairs.jsonl --out models/tuned [--base-model DIR] [--loss mnrl|cached|gist]
    chipassist retriever eval --index DIR --queries FILE.jsonl --model models/tuned [--json]
    chipassist retriever eval --index DIR --queries FILE.jsonl --tuned-index DIR2   # already re-embedded
    chipassist index CORPUS --index DIR --model models/tuned --rebuild     # then search with the tuned model

Exit codes: 0 ok, 1 no index, 2 bad input (pairs file, model folder, too small a corpus).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from assistant.cli.common import (ConfigOpt, IndexOpt, JsonOpt, console, eval_inputs, fail, open_index,
                                  parse_groups, print_json, settings_from)

retriever_app = typer.Typer(help="Fine-tune the dense retriever on your corpus.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `retriever ...` (dense retriever fine-tuning) to ``app``."""
    app.add_typer(retriever_app, name="retriever")


def _bad_option(e) -> None:
    """A pydantic error as a CLI message naming the field (the project's one error format)."""
    from corpora.config_io import format_validation_error

    fail(format_validation_error(e))


@retriever_app.command("gen-pairs")
def gen_pairs(
    index: Path = IndexOpt,
    config: Path = ConfigOpt,
    out: Path = typer.Option(Path("retriever-pairs.jsonl"), "--out", help="JSONL file to write."),
    backend: str = typer.Option("derived", "--backend", help="derived (from structure) or openai (an LLM server)."),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible server, for --backend openai."),
    llm_model: str = typer.Option(None, "--llm-model", help="Model name on that server (default: its first)."),
    max_pairs: int = typer.Option(3000, "--max-pairs", help="Total (query, chunk) pairs."),
    negatives: int = typer.Option(1, "--negatives", help="Hard negatives per pair."),
    groups: str = typer.Option(None, "--groups", help="Comma-separated ACL groups whose chunks may become training "
                                                      "text (default: public chunks only)."),
    json_out: bool = JsonOpt,
) -> None:
    """Generate (query, chunk, hard negatives) pairs from an index's chunks visible to --groups, with a held-out
    split; every row records its ACL."""
    from pydantic import ValidationError

    from retriever.finetune.config import PairsConfig
    from retriever.finetune.gen_pairs import PairsError, generate_pairs, write_pairs

    settings = settings_from(index, config)
    try:
        cfg = PairsConfig(backend=backend, base_url=base_url, llm_model=llm_model, max_pairs=max_pairs,
                          num_negatives=negatives, groups=sorted(parse_groups(groups)) if groups else None)
    except ValidationError as e:
        _bad_option(e)
    idx = open_index(settings.index_dir)
    try:
        rows, report = generate_pairs(idx, cfg, progress=not json_out)
    except PairsError as e:
        fail(str(e))
    write_pairs(rows, out)
    if json_out:
        print_json(report.to_dict() | {"out": str(out)})
        return
    d = report.to_dict()
    console.print(f"{d['pairs']} pairs ({d['train']} train, {d['heldout']} held out) from {d['chunks_sampled']} "
                  f"chunks, {d['negatives']} hard negatives; false negatives dropped: {d['filtered']}")
    console.print(f"wrote {out}")


@retriever_app.command("train")
def train(
    pairs: Path = typer.Option(..., "--pairs", help="JSONL from `chipassist retriever gen-pairs`."),
    out: Path = typer.Option(..., "--out", help="Folder for the tuned model (replaced only when training ends)."),
    base_model: Path = typer.Option(None, "--base-model", help="sentence-transformers folder (default MiniLM)."),
    loss: str = typer.Option("mnrl", "--loss", help="mnrl | cached | gist."),
    epochs: float = typer.Option(1.0, "--epochs"),
    max_steps: int = typer.Option(-1, "--max-steps", help="Stop after this many steps (-1: epochs decide)."),
    batch_size: int = typer.Option(32, "--batch-size"),
    max_minutes: float = typer.Option(18.0, "--max-minutes", help="Time budget of the whole run; the run is "
                                                                 "fitted into it and the best checkpoint kept."),
    lr: float = typer.Option(5e-5, "--lr", help="Peak learning rate (linear warm-up and decay)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for torch (default: one per core)."),
    merge: float = typer.Option(0.5, "--merge", help="Weight of the tuned model averaged with the base one "
                                                     "(WiSE-FT; 1 = keep the tuned weights as trained)."),
    json_out: bool = JsonOpt,
) -> None:
    """Fine-tune an embedding model on generated pairs; the best held-out checkpoint is saved atomically."""
    from pydantic import ValidationError

    from retriever.finetune.config import TrainConfig
    from retriever.finetune.gen_pairs import PairsError
    from retriever.finetune.train import TrainError, train_model

    try:
        cfg = TrainConfig(base_model=base_model, loss=loss, epochs=epochs, max_steps=max_steps,
                          batch_size=batch_size, max_minutes=max_minutes, learning_rate=lr, threads=threads,
                          merge=merge)
    except ValidationError as e:
        _bad_option(e)
    try:
        report = train_model(pairs, out, cfg, progress=not json_out)
    except (TrainError, PairsError) as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail(f"training interrupted; {out} was not changed", code=130)
    if json_out:
        print_json(report.to_dict())
        return
    console.print(f"trained {report.steps} steps in {report.seconds:.0f} s on {report.train_pairs} pairs; "
                  f"held-out {report.base} -> {report.best}"
                  + (f", merged with the base: {report.merged}" if report.merged else ""))
    console.print(f"model: {out}  (use it: chipassist index CORPUS --index DIR --model {out} --rebuild)")


@retriever_app.command("eval")
def eval_cmd(
    queries: Path = typer.Option(..., "--queries", help="JSONL file: {id, query, gold: [{source, contains}]}."),
    model: Path = typer.Option(None, "--model", help="The tuned sentence-transformers folder (the corpus is "
                                                     "re-embedded with it into a temporary index)."),
    tuned_index: Path = typer.Option(None, "--tuned-index", help="An index of the same corpus already built "
                                                                 "with the tuned model (instead of --model)."),
    index: Path = IndexOpt,
    config: Path = ConfigOpt,
    k: int = typer.Option(10, "-k", "--k", min=1),
    mode: str = typer.Option(None, "--mode", help="hybrid, dense or bm25 (default: from settings)."),
    json_out: bool = JsonOpt,
) -> None:
    """Base index vs the tuned model on the same corpus: hit@1/5/10, MRR@10, latency, side by side."""
    from retriever.finetune.compare import METRICS, compare, reembed, verdict
    from retriever.finetune.train import TrainError

    settings = settings_from(index, config)
    if (model is None) == (tuned_index is None):
        fail("give the tuned model as --model FOLDER or an index built with it as --tuned-index DIR (one of them)")
    mode, qs = eval_inputs(settings, mode, queries)
    base = open_index(settings.index_dir)
    with tempfile.TemporaryDirectory(prefix="chipassist-tuned-") as tmp:
        if tuned_index is not None:
            tuned = open_index(tuned_index)
            if tuned.info["model"].get("fingerprint") == base.info["model"].get("fingerprint"):
                fail(f"{tuned_index} and {settings.index_dir} were built with the same model "
                     f"({base.info['model'].get('path')}): nothing to compare")
        else:
            try:
                tuned = reembed(base, model, Path(tmp) / "index", progress=not json_out)
            except (TrainError, FileNotFoundError, ValueError) as e:
                fail(str(e))
        results = compare({"base": base, "tuned": tuned}, qs, k=k, mode=mode)
        tuned.close()
    label = model or tuned.info["model"].get("path")
    decision = verdict(results["base"], results["tuned"])
    if json_out:
        print_json({name: {m: v for m, v in r.items() if m != "ranks"} for name, r in results.items()}
                   | {"verdict": decision})
        return
    from rich.table import Table

    table = Table(title=f"retrieval ({mode}): {queries} ({len(qs)} questions), base vs {label}")
    table.add_column("model")
    for col in METRICS:
        table.add_column(col, justify="right")
    for name, r in results.items():
        table.add_row(name, *(f"{r[m]:.3f}" if "ms" not in m else f"{r[m]:.1f}" for m in METRICS))
    table.add_row("tuned/base", *(f"{results['tuned'][m] / results['base'][m]:.2f}x" if results["base"][m] else "-"
                                  for m in METRICS))
    console.print(table)
    if decision["use_tuned"]:
        console.print(f"[green]use the tuned model[/]: {decision['why']} -> chipassist index CORPUS --index "
                      f"{settings.index_dir} --model {label} --rebuild")
    else:
        console.print(f"[yellow]keep the base model[/]: the tuned one is {decision['why']}")
