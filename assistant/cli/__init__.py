"""The `chipassist` command line: a thin shell over the libraries and the service API.

Each area registers its commands from its own module (see `_AREAS`), so the CLI stays thin and
each module stays about one concept. Heavy imports happen inside commands, keeping `--help` fast.
"""
from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="chipassist",
    help="ChipAssist: an engineering assistant for chip design (grounded Q&A, Tcl scripts, bug summaries).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# module -> registers commands on `app`: index/search/eval, ask, adapt, retriever, tcl, bugs, ui/slack/feedback,
# then the commands of the other registered jobs (assistant.jobs)
_AREAS = (
    "assistant.cli.index_cmds",
    "assistant.cli.ask_cmd",
    "assistant.cli.adapt_cmds",
    "assistant.cli.retriever_cmds",
    "assistant.cli.tcl_cmds",
    "assistant.cli.bugs_cmds",
    "assistant.cli.client_cmds",
    "assistant.cli.eval_cmds",
    "assistant.cli.model_cmds",
    "assistant.api.cli",  # mcp, serve, api token
    "assistant.cli.job_cmds",  # last: a command for every registered job not written by hand above
)
for _mod in _AREAS:
    importlib.import_module(_mod).register(app)


def main() -> None:
    """The `chipassist` console script: quiets model-loading bars, then runs the Typer app."""
    import os

    # Loading a model folder is instant here; transformers' per-load "Loading weights" bar is only noise in
    # a CLI whose own progress bars (indexing, training) matter. Users can turn it back on.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    app()
