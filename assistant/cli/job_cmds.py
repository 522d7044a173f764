"""CLI commands built from the job registry: every job with a ``cli`` path gets a command.

Jobs whose command is written by hand (`ask`, `search`, `tcl check`, `tcl generate`, `bugs summarize`: richer
options, streaming, exit codes of their own) are registered by their area's module first and left alone
here; every other job gets a generated command whose argument is its request's main field and whose
options are the request's other simple fields, plus ``--index``, ``--config``, ``--user-groups`` and
``--json``. With ``Job.cli_file`` the argument is a file to read (``-``: standard input).

    chipassist explain-log build/yosys.log --user-groups soc-team
    tail -n 5000 openroad.log | chipassist explain-log - --backend none --json
"""
from __future__ import annotations

import inspect
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import typer

from assistant.cli.common import console, fail, parse_groups, print_json, settings_from

_COMMON = ("index", "config", "user_groups", "json_out")


def register(app: typer.Typer) -> None:
    """Add a command for every registered job with a CLI name that ``app`` does not have yet,
    its options built from the job's request type."""
    from assistant.jobs import all_jobs

    for job in all_jobs():
        if job.cli and not _taken(app, job.cli):
            _group(app, job.cli[:-1]).command(job.cli[-1], help=job.description)(_command(job))


def _taken(app: typer.Typer, path: tuple[str, ...]) -> bool:
    """Whether ``path`` (e.g. ("tcl", "check")) is already a command of ``app``."""
    for name in path[:-1]:
        group = next((g for g in app.registered_groups if g.name == name), None)
        if group is None:
            return False
        app = group.typer_instance
    return any((c.name or c.callback.__name__) == path[-1] for c in app.registered_commands)


def _group(app: typer.Typer, path: tuple[str, ...]) -> typer.Typer:
    """The sub-app at ``path``, created (with no_args_is_help) where missing."""
    for name in path:
        group = next((g for g in app.registered_groups if g.name == name), None)
        if group is None:
            sub = typer.Typer(no_args_is_help=True)
            app.add_typer(sub, name=name)
            app = sub
        else:
            app = group.typer_instance
    return app


def _simple(annotation: Any) -> type | None:
    """The CLI type of a request field (str, int, float, bool, Path), or None for fields the CLI leaves out."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is Literal:
        return str
    return annotation if annotation in (str, int, float, bool, Path) else None


def _main_field(job) -> str:
    fields = job.request.model_fields
    return job.cli_argument or next(name for name, f in fields.items() if f.is_required())


def _command(job):
    """A typer command for ``job``: its signature is generated from the request model's fields."""
    arg = _main_field(job)
    fields = job.request.model_fields
    kw_only = inspect.Parameter.KEYWORD_ONLY
    helptext = "A file to read ('-': standard input)." if job.cli_file else fields[arg].description
    params = [inspect.Parameter(arg, kw_only, annotation=str, default=typer.Argument(..., help=helptext))]
    for name, field in fields.items():
        kind = _simple(field.annotation)
        if name == arg or kind is None or name in _COMMON:
            continue
        flag = f"--{name.replace('_', '-')}"
        decl = [f"{flag}/--no-{name.replace('_', '-')}"] if kind is bool else [flag]
        if len(name) == 1 and kind is not bool:  # -k, as `ask` and `search` spell it
            decl.insert(0, f"-{name}")
        params.append(inspect.Parameter(name, kw_only, annotation=kind,
                                        default=typer.Option(None, *decl, help=field.description)))
    params += [
        inspect.Parameter("index", kw_only, annotation=Path, default=typer.Option(
            None, "--index", help="Index folder (default: .chipassist/index or $CHIPASSIST_INDEX).")),
        inspect.Parameter("config", kw_only, annotation=Path, default=typer.Option(
            None, "--config", help="YAML settings file (default: $CHIPASSIST_CONFIG).")),
        inspect.Parameter("user_groups", kw_only, annotation=str, default=typer.Option(
            None, "--user-groups", help="Comma-separated ACL groups (default: public only).")),
        inspect.Parameter("json_out", kw_only, annotation=bool, default=typer.Option(
            False, "--json", help="Print the result as one JSON object.")),
    ]

    def command(**kw: Any) -> None:
        _run(job, arg, kw)

    command.__name__ = job.name
    command.__doc__ = job.description
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


def _read(job, value: str) -> str:
    """The argument's file (or stdin) as text, refusing one far over the job's limit before reading it."""
    limit = job.max_chars * 4 + 1  # UTF-8: at most 4 bytes a character
    if value == "-":
        data = sys.stdin.buffer.read(limit)
        name = "standard input"
    else:
        path = Path(value)
        if not path.is_file():
            fail(f"{value}: no such file")
        with path.open("rb") as f:
            data = f.read(limit)
        name = value
    if len(data) >= limit:
        fail(f"{name}: more than {job.max_chars:,} characters; {job.title.lower()} takes at most "
             f"{job.max_chars:,} (pass the relevant part, e.g. `tail -n 20000 {value} | chipassist "
             f"{' '.join(job.cli)} -`)")
    return data.decode("utf-8", errors="replace")


def _run(job, arg: str, kw: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from assistant.service import Assistant

    settings = settings_from(kw.pop("index"), kw.pop("config"))
    groups, json_out = parse_groups(kw.pop("user_groups")), kw.pop("json_out")
    if job.cli_file:
        kw[arg] = _read(job, kw[arg])
    request = {name: value for name, value in kw.items() if value is not None}
    try:
        result = Assistant(settings).run(job.name, request, user_groups=groups)
    except ValidationError as e:
        err = e.errors()[0]
        fail(f"--{'.'.join(str(p) for p in err['loc']).replace('_', '-')}: {err['msg']}")
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    if json_out:
        print_json(result)
    else:
        console.out(job.render_markdown(result), highlight=False)
