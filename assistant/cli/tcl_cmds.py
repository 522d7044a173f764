"""`chipassist tcl ...`: generate Tcl scripts for EDA tools, check them, list the tools' commands.

    chipassist tcl generate "synthesize uart.v, report cells" --tool yosys --design uart.v -o flow.tcl
    chipassist tcl check flow.tcl --tool yosys --design uart.v [--json]   # exit 1 when a check fails
    chipassist tcl commands --tool openroad [NAME] [--index DIR [--groups team]]
    chipassist tcl sft-data TASKS.jsonl [...] --out sft.jsonl --backend llamacpp   # training rows for a recipe
        [--repairs RECORDS.jsonl ...] [--exclude y12,y13]   # + repair rows from bench records; tasks left out

With --index, OpenROAD commands are also learnt from the index's docs visible to --groups (default: public).
"""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from assistant.cli.common import ConfigOpt, IndexOpt, JsonOpt, console, fail, parse_groups, print_json, settings_from
from assistant.types import split_context

ToolOpt = typer.Option("yosys", "--tool", help="yosys or openroad.")
GroupsOpt = typer.Option(None, "--groups", help="Comma-separated ACL groups: with --index, learn commands only from "
                                                "docs they may see (default: public docs only).")
DesignOpt = typer.Option(None, "--design", help="Design file or folder copied into the sandbox (repeatable; "
                                                 "a folder keeps its name: rtl/uart.v).")


_MAX_FIXES = 12


def _print_fixes(fixes: list[str]) -> None:
    """What was changed without the model, so the user can see it (the message only counts them)."""
    if fixes:
        console.print(f"[dim]fixed without the model ({len(fixes)}):[/]")
    for f in fixes[:_MAX_FIXES]:
        console.print(f"[dim]  {escape(f)}[/]")
    if len(fixes) > _MAX_FIXES:
        console.print(f"[dim]  ... and {len(fixes) - _MAX_FIXES} more (--json lists all)[/]")


def _print_sources(sources, full: bool) -> None:
    """The references: in full when they are the answer (the retrieval-only backend); beside a script, one line per
    retrieved passage and one line per kind of context (command help, cookbook examples) instead of 20 snippets."""
    if full:
        for s in sources:
            console.print(f"[cyan][{s.n}][/] {escape(s.title)} [dim]{escape(s.where(lines=False))}[/]\n"
                          f"    {escape(s.snippet[:300])}")
        return
    passages, context = split_context(sources)
    for s in passages:
        console.print(f"[cyan][{s.n}][/] {escape(s.title)} [dim]{escape(s.where())}[/]")
    for where, group in context.items():
        console.print(f"[cyan]{escape(where)}:[/] [dim]{escape(', '.join(f'[{s.n}] {s.title}' for s in group))}[/]")


def _print_check(check) -> None:
    if not check.syntax and not check.lint:
        console.print("[green]syntax ok, commands and options ok[/]")
    for s in check.syntax:
        console.print(f"[red]line {s.line}[/] syntax: {escape(s.message)}")
    from assistant.tcl.lint import ADVISORY

    for i in check.lint:
        opt = f" {i.option}" if i.option else ""
        what = f"{i.problem.replace('_', ' ')}: [bold]{escape(i.command + opt)}[/]"
        if i.problem in ADVISORY:
            console.print(f"[yellow]line {i.line}[/] {what}  [dim]({escape(i.suggestion or '')})[/]")
            continue
        if i.problem == "unsafe":
            hint = f"  [dim]({escape(i.suggestion or '')})[/]"
        else:
            hint = f"  [dim](did you mean: {escape(i.suggestion)})[/]" if i.suggestion else ""
        console.print(f"[red]line {i.line}[/] {what}{hint}")
    run = check.run
    if not run.ran:
        console.print(f"[yellow]run skipped:[/] {escape(run.skipped_reason or '')}")
    else:
        state = "[green]ran ok[/]" if run.ok else ("[red]timed out[/]" if run.timed_out else "[red]failed[/]")
        console.print(f"{run.tool} {state} (exit code {run.returncode})")
        for e in run.errors:
            console.print(f"[red]line {e.get('line') or '?'}[/] {run.tool}: {escape(str(e.get('message')))}")
        if run.artifacts:
            console.print(f"[dim]files written in the sandbox: {', '.join(run.artifacts)}[/]")
    console.print("[bold green]OK[/]" if check.ok else "[bold red]FAILED[/]")


def register(app: typer.Typer) -> None:
    """Add `tcl check|generate|commands` to ``app``."""
    tcl = typer.Typer(help="Tcl scripts for EDA tools: generate, check, list commands.", no_args_is_help=True)
    app.add_typer(tcl, name="tcl")

    @tcl.command("check")
    def check_cmd(file: Path = typer.Argument(..., help="The Tcl script."), tool: str = ToolOpt,
                  design: list[Path] = DesignOpt, json: bool = JsonOpt,
                  timeout: float = typer.Option(120.0, "--timeout", help="Seconds before the tool is killed."),
                  no_run: bool = typer.Option(False, "--no-run", help="Levels 1-2 only."),
                  index: Path = typer.Option(None, "--index", help="Also learn OpenROAD commands from this "
                                                                   "index's OpenROAD-format docs."),
                  groups: str = GroupsOpt) -> None:
        """Check a script: syntax, commands and options, and a sandboxed run of the tool."""
        from pydantic import ValidationError

        from assistant.service import Assistant
        from corpora.config_io import format_validation_error
        from assistant.tcl.check import TclInputError, read_script
        from assistant.tcl.run import RunConfig

        try:
            RunConfig(timeout_s=timeout)
        except ValidationError as e:
            # the field is RunConfig's timeout_s; the user typed --timeout
            why = format_validation_error(e).removeprefix("timeout_s")
            fail(f"--timeout{why} (seconds before the tool is killed)")
        bot = Assistant(settings_from(index, None))
        try:
            # in the sandbox the script keeps its folder's name (flows/synth.tcl), so scripts that find
            # their RTL relative to themselves work with --design rtl
            where = f"{file.resolve().parent.name}/{file.name}"
            result = bot.tcl_check(read_script(file), tool=tool, design=design or None, run=not no_run,
                                   timeout_s=timeout, learn_from_index=index is not None, script_name=where,
                                   user_groups=parse_groups(groups))
        except TclInputError as e:
            fail(str(e))
        except FileNotFoundError as e:
            fail(f"index: {e}")
        if json:
            print_json(result)
        else:
            _print_check(result)
        raise typer.Exit(0 if result.ok else 1)

    @tcl.command("generate")
    def generate_cmd(task: str = typer.Argument(..., help="What the script should do."), tool: str = ToolOpt,
                     design: list[Path] = DesignOpt,
                     out: Path = typer.Option(None, "-o", "--out", help="Write the script here."),
                     rounds: int = typer.Option(2, "--rounds", min=0, max=10, help="Repair rounds."),
                     json: bool = JsonOpt, index: Path = IndexOpt, config: Path = ConfigOpt,
                     backend: str = typer.Option(None, "--backend", help="none, llamacpp, openai or local."),
                     groups: str = typer.Option(None, "--groups", help="Comma-separated ACL groups."),
                     run_unsafe: bool = typer.Option(False, "--run-unsafe", help="Also run a generated script that "
                                                     "lint flags unsafe (exec, sockets, ...); it still runs in "
                                                     "the sandbox.")) -> None:
        """Write a Tcl script for TASK, checked by the real tool and repaired for up to N rounds."""
        from assistant.service import Assistant
        from assistant.tcl.check import TclInputError

        bot = Assistant(settings_from(index, config, llm={"backend": backend}))
        try:
            gen = bot.tcl_generate(task, tool=tool, design=design or None, rounds=rounds,
                                   user_groups=parse_groups(groups), run_unsafe=run_unsafe)
        except TclInputError as e:
            fail(str(e))
        if out is not None and gen.script is not None:
            out.write_text(gen.script, encoding="utf-8")
        if json:
            print_json(gen)
        else:
            console.print(f"[bold]{escape(gen.message)}[/]")
            if gen.script is not None:
                console.print(escape(gen.script))
                _print_check(gen.check)
            _print_fixes(gen.fixes)
            _print_sources(gen.sources, full=gen.script is None)
            if out is not None and gen.script is not None:
                console.print(f"[dim]written to {out}[/]")
        raise typer.Exit(1 if gen.check is not None and not gen.check.ok else 0)

    @tcl.command("sft-data")
    def sft_data_cmd(tasks: list[Path] = typer.Argument(..., help="Checked task files (JSONL: id, task, design, "
                                                        "checks, reference)."),
                     out: Path = typer.Option(..., "-o", "--out", help="Where to write the rows (JSONL)."),
                     exclude: str = typer.Option("", "--exclude", help="Comma-separated task ids to leave out "
                                                 "(those you will measure on)."),
                     references: bool = typer.Option(False, "--references/--no-references",
                                                     help="Build the prompts with retrieved references."),
                     repairs: list[Path] = typer.Option(None, "--repairs", help="Bench records "
                                                        "(bench/tcl_generation.py JSONL, repeatable): the model's "
                                                        "failing scripts become repair rows."),
                     index: Path = IndexOpt, config: Path = ConfigOpt,
                     backend: str = typer.Option(None, "--backend", help="The model the rows are for: its "
                                                 "tokenizer and prompt budget shape the prompts.")) -> None:
        """SFT rows from checked tasks: the generator's own prompt for each (and, with --repairs, the repair
        prompt each recorded failing script leads to), answered by its reference script."""
        from rich.progress import track

        from assistant.service import Assistant
        from assistant.tcl.sft_data import recorded_answers, write_sft_rows

        for f in [*tasks, *(repairs or [])]:
            if not f.is_file():
                fail(f"{f}: file not found")
        bot = Assistant(settings_from(index, config, llm={"backend": backend}))
        try:
            answers = recorded_answers(repairs or [], references)
            rep = write_sft_rows(bot, tasks, out, references, {x.strip() for x in exclude.split(",") if x.strip()},
                                 progress=lambda xs, description: track(xs, description=description, console=console),
                                 repairs=answers)
        except ValueError as e:
            fail(str(e))
        for s in rep["skipped"]:
            console.print(f"[yellow]skipped[/] {escape(str(s['id']))} ({escape(s['file'])}): {escape(s['why'])}")
        tokens = rep["prompt_tokens"]
        mean = sum(tokens) / len(tokens) if tokens else 0
        console.print(f"[bold]{rep['rows']} rows[/] ({rep['repair_rows']} repair rows) written to {escape(rep['out'])} "
                      f"(prompts {mean:.0f} tokens on average, {max(tokens, default=0)} at most; whole rows "
                      f"{max(rep['row_tokens'], default=0)} at most: a recipe's sft.block_size must hold them)")

    @tcl.command("commands")
    def commands_cmd(tool: str = ToolOpt, name: str = typer.Argument(None, help="Show one command's options."),
                     json: bool = JsonOpt,
                     index: Path = typer.Option(None, "--index", help="Also learn OpenROAD commands from this "
                                                                      "index's OpenROAD-format docs."),
                     groups: str = GroupsOpt) -> None:
        """List the commands (and options) ChipAssist knows for a tool (from --index: docs visible to --groups)."""
        from assistant.tcl.commands import get_db
        from assistant.tcl.yosys_db import YosysNotFound

        try:
            db = get_db(tool, index_dir=index, user_groups=parse_groups(groups))
        except (ValueError, YosysNotFound, FileNotFoundError) as e:
            fail(str(e))
        specs = list(db.commands.values()) if name is None else [db.get(name)]
        if specs == [None]:
            fail(f"{tool} has no command {name!r}; nearest: {', '.join(db.suggest_command(name)) or 'none'}", code=1)
        if json:
            print_json([s.model_dump() for s in specs])
            return
        table = Table(title=f"{tool} {db.version} ({len(db.commands)} commands; source: {db.source})")
        table.add_column("command", style="bold")
        table.add_column("options")
        table.add_column("summary", style="dim")
        for s in specs:
            opts = " ".join(o.name + ("*" if o.required else "") for o in s.options) if s.check_options else "(not checked)"
            table.add_row(s.name, opts, s.summary)
        console.print(table)
        console.print("[dim]* = required[/]")
