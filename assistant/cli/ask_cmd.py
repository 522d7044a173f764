"""`chipassist ask QUESTION --index DIR`: a grounded answer citing [n], then its numbered sources.

    chipassist ask "How is the UART baud rate set?" --index .chipassist/index
    chipassist ask "What resets the DMA?" --backend openai --base-url http://gpu-box:8000/v1 --json
    chipassist ask "..." --backend local --model-path models/tiny --adapter-path adapters/lora -k 8

The answer streams to the terminal when the backend streams; `--json` prints the Answer object instead.
Exit codes: 0 answered (also when the LLM failed and the answer fell back to passages, with a warning on
stderr), 1 no index or nothing found, 2 bad input (empty question, bad config).
"""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from assistant.cli.common import ConfigOpt, IndexOpt, console, err_console, fail, parse_groups, print_json, settings_from


def register(app: typer.Typer) -> None:
    """Add the `ask` command to ``app``."""
    app.command("ask")(ask)


def ask(
    question: str = typer.Argument(..., help="The question, in quotes."),
    index: Path = IndexOpt,
    config: Path = ConfigOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the Answer as one JSON object."),
    k: int = typer.Option(None, "-k", "--k", min=1, max=100, help="Passages to retrieve (default retrieval.k)."),
    user_groups: str = typer.Option(None, "--user-groups", help="Comma-separated ACL groups (default: public only)."),
    backend: str = typer.Option(None, "--backend", help="LLM backend: none | llamacpp | openai | local (default llm.backend)."),
    model_path: Path = typer.Option(None, "--model-path", help="local: a transformers model folder."),
    adapter_path: Path = typer.Option(None, "--adapter-path", help="local: a PEFT adapter folder."),
    base_url: str = typer.Option(None, "--base-url", help="openai: server URL, e.g. http://host:8000/v1."),
    model: str = typer.Option(None, "--model", help="openai: model id (default: the server's first model)."),
) -> None:
    """Answer a question from the index, citing the passages it used."""
    from assistant.service import Assistant

    if not question.strip():
        fail("the question is empty")
    llm = {"backend": backend, "model_path": model_path, "adapter_path": adapter_path, "base_url": base_url,
           "model": model}
    settings = settings_from(index, config, llm=llm)
    if not settings.index_dir.is_dir():
        fail(f"no index at {settings.index_dir}: build one with `chipassist index PATH --index DIR`", code=1)
    bot = Assistant(settings)
    groups = parse_groups(user_groups)
    try:
        if json_out:
            answer = bot.ask(question, k=k, user_groups=groups)
        else:
            answer = _show_stream(bot.ask_stream(question, k=k, user_groups=groups))
    except ValueError as e:  # empty question, bad history, a model folder that does not load
        fail(str(e))
    except FileNotFoundError as e:
        fail(str(e), code=1)
    for warning in answer.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    if json_out:
        print_json(answer)
    else:
        _print_sources(answer)
    if not answer.sources:
        raise typer.Exit(1)


def _show_stream(stream):
    """Print text pieces as they arrive and return the final Answer."""
    console.rule("[bold]Answer[/]", align="left")
    for item in stream:
        if not isinstance(item, str):
            console.out("")  # end the streamed text's line before warnings go to stderr
            return item
        console.out(item, end="", highlight=False)
        console.file.flush()
    raise RuntimeError("the answer stream ended without an Answer")  # a bug in assistant.qa, not user input


def _print_sources(answer) -> None:
    console.out("")  # a blank line after the answer (_show_stream ended its last line)
    via = "retrieval only" if answer.retrieval_only else f"{answer.backend} {answer.model}".strip()
    console.print(f"[dim]({via}, {answer.latency_ms:.0f} ms)[/]")
    if not answer.sources:
        return
    console.rule("[bold]Sources[/]", align="left")
    for s in answer.sources:
        console.print(f"[bold cyan]\\[{s.n}][/] [green]{escape(s.where())}[/] — {escape(s.title)} "
                      f"[dim](score {s.score:.3f})[/]",
                      markup=True, highlight=False)
