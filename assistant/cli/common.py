"""Shared CLI plumbing: the console, JSON output, settings from common options, and clean errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

IndexOpt = typer.Option(None, "--index", help="Index folder (default: .chipassist/index or $CHIPASSIST_INDEX).")
ConfigOpt = typer.Option(None, "--config", help="YAML settings file (default: $CHIPASSIST_CONFIG).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object instead of formatted text.")


def print_json(obj: Any) -> None:
    """Print a pydantic model, dataclass-like dict or list as JSON on stdout (no colour, no wrapping)."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> "typer.Exit":
    """Print a clear error on stderr and exit with ``code`` (2 = bad input, 1 = check failed)."""
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}")  # messages quote paths and inputs: no markup
    raise typer.Exit(code)


def settings_from(index: Path | None = None, config: Path | None = None, **overrides: Any):
    """The settings from ``config`` (with ``index`` and ``overrides`` on top); a bad value exits with
    the config error, naming the file and field."""
    from assistant.config import ConfigError, load_settings

    try:
        return load_settings(config, index_dir=index, **overrides)
    except ConfigError as e:
        fail(str(e))


def parse_groups(groups: str | None) -> set[str] | None:
    """The ``--groups a,b`` option as a set of groups; None (public documents only) when not given."""
    if not groups:
        return None
    return {g.strip() for g in groups.split(",") if g.strip()}


def open_index(index_dir: Path):
    """The index at ``index_dir``, or exit 1 saying how to build one."""
    from retriever.index import CorruptIndexError, Index, IndexNotFoundError

    if not Path(index_dir).is_dir():
        fail(f"no index at {index_dir}: build one with `chipassist index PATH --index {index_dir}`", code=1)
    try:
        return Index.open(index_dir)
    except (IndexNotFoundError, CorruptIndexError, FileNotFoundError, ValueError) as e:
        fail(f"cannot open index {index_dir}: {e}", code=1)


def eval_inputs(settings, mode: str | None, queries: Path):
    """(search mode, questions) for the eval commands: the mode checked, the question file loaded."""
    from retriever.evaluate import QueryFileError, load_queries

    mode = mode or settings.retrieval.mode
    if mode not in ("hybrid", "dense", "bm25"):
        fail(f"--mode must be hybrid, dense or bm25, got {mode!r}")
    try:
        return mode, load_queries(queries)
    except QueryFileError as e:
        fail(str(e))
