"""`chipassist bugs ...`: import bug exports, list them, summarize one bug.

    chipassist bugs import corpora/sample/bugs/bugs.jsonl [--acl team] [--json]   # exit 2 when the file is unusable
    chipassist bugs list [--status open] [--groups team] [--json]
    chipassist bugs summarize PICO-12 --kind all [--groups team] [--backend none] [--file EXPORT] [--json]  # exit 1: unknown id

The store is `Settings.bugs_db` (``<data_dir>/bugs.sqlite``; ``--data-dir`` or $CHIPASSIST_DATA_DIR).
Bugs carry ACL groups (see `assistant.bugs.store`); `list` and `summarize` show only the bugs visible to
``--groups`` (default: public only).
"""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from assistant.cli.common import ConfigOpt, JsonOpt, console, fail, parse_groups, print_json, settings_from

DataDirOpt = typer.Option(None, "--data-dir", help="Where bugs.sqlite lives (default: .chipassist or $CHIPASSIST_DATA_DIR).")
KindOpt = typer.Option("all", "--kind", help="technical, managerial, assignment or all.")
BackendOpt = typer.Option(None, "--backend", help="LLM backend: none, llamacpp, openai or local (default: settings).")
FileOpt = typer.Option(None, "--file", help="Read the bugs from this export instead of the store.")
GroupsOpt = typer.Option(None, "--groups", help="Comma-separated ACL groups of the reader (default: public bugs only).")


def _print_import(report) -> None:
    console.print(f"[bold]{escape(report.file)}[/] ({report.format}): {report.records} bugs read, "
                  f"[green]{report.inserted} new[/], [cyan]{report.updated} updated[/], "
                  f"{report.unchanged} unchanged; {report.total_in_store} in the store")
    for p in report.problems:
        console.print(f"[yellow]problem:[/] {escape(p)}", soft_wrap=True)


def _print_summary(summary) -> None:
    mode = "deterministic digest, no LLM" if summary.retrieval_only else f"{summary.backend} {summary.model}"
    console.print(f"[bold]Bug {escape(summary.bug_id)}[/] — {summary.kind} summary [dim]({escape(mode)})[/]")
    for name, text in summary.sections.items():
        if name == "assignment":
            continue
        console.rule(f"[bold cyan]{name}[/]", align="left")
        console.print(escape(text), soft_wrap=True)  # long paths stay whole, for copying
    if summary.kind in ("assignment", "all"):
        console.rule("[bold cyan]assignment[/]", align="left")
        if not summary.assignment:
            console.print(escape(summary.sections.get("assignment", "")))
        for n, c in enumerate(summary.assignment, 1):
            console.print(f"[bold]{n}. {escape(c.owner)}[/] [dim](score {c.score:.2f})[/]")
            for r in c.reasons:
                console.print(f"   - {escape(r)}", soft_wrap=True)
    for w in summary.warnings:
        console.print(f"[yellow]note:[/] {escape(w)}")


def register(app: typer.Typer) -> None:
    """Add the `bugs` commands (import, list, summarize) to ``app``."""
    bugs = typer.Typer(help="Bug exports: import, list, summarize (technical, managerial, assignment).",
                       no_args_is_help=True)
    app.add_typer(bugs, name="bugs")

    @bugs.command("import")
    def import_cmd(file: Path = typer.Argument(..., help="A bug export: JSON lines, CSV or GitHub issues JSON."),
                   json: bool = JsonOpt, data_dir: Path = DataDirOpt, config: Path = ConfigOpt,
                   acl: str = typer.Option(None, "--acl", help="Comma-separated groups allowed to see these bugs "
                                                               "(added to the ACL manifests and the records' own "
                                                               "acl field; the strictest wins).")) -> None:
        """Import (upsert by id) a bug export; every skipped or incomplete record is reported with its line."""
        from assistant.service import Assistant
        from corpora.bugs import BugExportError

        bot = Assistant(settings_from(None, config, data_dir=data_dir))
        try:
            report = bot.bugs_import(file, acl=sorted(parse_groups(acl)) if acl else None)
        except (BugExportError, ValueError) as e:
            fail(str(e))
        print_json(report) if json else _print_import(report)

    @bugs.command("list")
    def list_cmd(status: str = typer.Option(None, "--status", help="Only bugs with this status."),
                 json: bool = JsonOpt, data_dir: Path = DataDirOpt, config: Path = ConfigOpt,
                 groups: str = GroupsOpt) -> None:
        """List the imported bugs visible to --groups."""
        from assistant.bugs.store import BugStore

        settings = settings_from(None, config, data_dir=data_dir)
        rows = [b for b in BugStore(settings.bugs_db).all(parse_groups(groups))
                if not status or b.status.lower() == status.lower()]
        if json:
            print_json([{"id": b.id, "title": b.title, "status": b.status, "component": b.component,
                         "assignee": b.assignee, "updated": b.updated, "comments": len(b.comments), "acl": b.acl}
                        for b in rows])
            return
        if not rows:
            console.print(f"no bugs in {settings.bugs_db}; import an export with: chipassist bugs import FILE")
            return
        table = Table("id", "status", "component", "assignee", "title", header_style="bold")
        for b in rows:
            table.add_row(escape(b.id), escape(b.status), escape(b.component), escape(b.assignee), escape(b.title))
        console.print(table)

    @bugs.command("summarize")
    def summarize_cmd(bug_id: str = typer.Argument(..., metavar="ID", help="The bug id."), kind: str = KindOpt,
                      json: bool = JsonOpt, backend: str = BackendOpt, file: Path = FileOpt,
                      data_dir: Path = DataDirOpt, config: Path = ConfigOpt, groups: str = GroupsOpt) -> None:
        """Summarize one bug visible to --groups: technical, managerial, assignment (ranked owners) or all."""
        from assistant.bugs.store import UnknownBugError
        from assistant.service import Assistant
        from corpora.bugs import BugExportError

        bot = Assistant(settings_from(None, config, data_dir=data_dir, llm={"backend": backend}))
        try:
            if json:
                summary = bot.bug_summary(bug_id, kind=kind, bugs_file=file, user_groups=parse_groups(groups))
            else:
                with console.status(f"summarizing bug {escape(bug_id)} ({kind})..."):
                    summary = bot.bug_summary(bug_id, kind=kind, bugs_file=file, user_groups=parse_groups(groups))
        except UnknownBugError as e:
            fail(str(e), code=1)
        except (BugExportError, ValueError) as e:
            fail(str(e))
        print_json(summary) if json else _print_summary(summary)
