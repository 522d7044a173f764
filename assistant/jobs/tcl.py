"""The `tcl_check` and `tcl_generate` jobs (the "Tcl script" chat profile), over :mod:`assistant.tcl`.

In a chat, a message holding a ```tcl block is the user's own script to check; any other message is a task
to write a script for. Both take ``--tool openroad`` (default yosys).
"""
from __future__ import annotations

import re
from typing import Any

from assistant.jobs.base import Job, JobInputError, Upload, register
from assistant.jobs.render import check_text, sources_footer
from assistant.types import TclCheckRequest, TclCheckResult, TclGenerateRequest, TclGeneration

PROFILE = "Tcl script"
MAX_SCRIPT_CHARS = 50_000  # a pasted Tcl script to check; flow scripts are a few KB
_FENCE = re.compile(r"```(?:tcl)?\s*\n(.*?)```", re.S)
_TOOL = re.compile(r"--tool\s+(\S+)")


def _tool(text: str) -> tuple[str, str]:
    """(tool, the text without its ``--tool X``); an unknown tool is a JobInputError naming the choices."""
    m = _TOOL.search(text)
    tool = m.group(1).lower() if m else "yosys"
    if tool not in ("yosys", "openroad"):
        raise JobInputError(f"Unknown tool `{tool.replace('`', '')}`: use `--tool yosys` or `--tool openroad`.")
    return tool, _TOOL.sub("", text).strip()


# -- tcl_check ---------------------------------------------------------------------------------------
def _check(bot, req: TclCheckRequest, groups) -> TclCheckResult:
    from assistant.config import secret_values
    from assistant.tcl.check import check_script
    from assistant.tcl.run import RunConfig

    kw: dict[str, Any] = {}
    if req.timeout_s is not None:
        kw["run_config"] = RunConfig(timeout_s=req.timeout_s)
    if req.script_name:
        kw["script_name"] = req.script_name
    # a user's own script runs even when lint flags it unsafe (confined); the output is scrubbed of secrets
    check = check_script(req.script, tool=req.tool, design=req.design or None, run=req.run,
                         index_dir=bot.settings.index_dir if req.learn_from_index else None, user_groups=groups,
                         secrets=secret_values(bot.settings), **kw)
    return TclCheckResult(script=req.script, tool=req.tool, check=check)


def _check_markdown(result: TclCheckResult) -> str:
    return f"```tcl\n{result.script.rstrip()}\n```\n\n{check_text(result.check)}"


def _check_blocks(result: TclCheckResult, source_url: str | None) -> str:
    from assistant.slack.format import format_tcl

    return format_tcl(TclGeneration(task="", tool=result.tool, script=result.script, check=result.check), source_url)


def _pasted(text: str, uploads: list[Upload]) -> bool:
    return bool(_FENCE.search(text))


def _script(text: str, uploads: list[Upload]) -> TclCheckRequest:
    m = _FENCE.search(text)
    if not m:
        raise JobInputError("Paste the script in a ```tcl block to check it.")
    tool, _ = _tool(text[:m.start()] + text[m.end():])
    return TclCheckRequest(script=m.group(1), tool=tool)


def _check_record(result: TclCheckResult) -> dict[str, Any]:
    return {"question": result.script, "text": _check_markdown(result), "backend": "none", "model": ""}


TCL_CHECK = register(Job(
    name="tcl_check", title="Check a Tcl script", mode="tcl",
    description="Check your own Tcl script: syntax, commands and options, and a sandboxed run of the tool.",
    request=TclCheckRequest, result=TclCheckResult, run=_check,
    render_markdown=_check_markdown, render_blocks=_check_blocks, from_text=_script, feedback=_check_record,
    cli=("tcl", "check"), profile=PROFILE, accepts=_pasted,
    usage="a script in a ```tcl block", max_chars=MAX_SCRIPT_CHARS,
))


# -- tcl_generate ------------------------------------------------------------------------------------
def _generate(bot, req: TclGenerateRequest, groups) -> TclGeneration:
    from assistant.tcl.generate import generate_script

    return generate_script(bot, req.task, tool=req.tool, design=req.design or None, rounds=req.rounds,
                           user_groups=groups, references=req.references, run_unsafe=req.run_unsafe)


def _generation_markdown(gen: TclGeneration) -> str:
    if gen.script is None:
        return ((gen.message or "No LLM is configured, so no script was written.") +
                "\n\nCommand references for this task are listed below; paste a script in a ```tcl block to "
                "check it." + sources_footer(gen.sources))
    # the message says how it went, including the task's files a clean run did not write
    return (f"```tcl\n{gen.script.rstrip()}\n```\n\n{check_text(gen.check)}\n\n_{gen.message}_"
            + sources_footer(gen.sources))


def _generation_blocks(gen: TclGeneration, source_url: str | None) -> str:
    from assistant.slack.format import format_tcl

    return format_tcl(gen, source_url)


def _task(text: str, uploads: list[Upload]) -> TclGenerateRequest:
    tool, task = _tool(text)
    if not task:
        raise JobInputError("Usage: `tcl TASK [--tool yosys|openroad]`: describe what the script should do.")
    return TclGenerateRequest(task=task, tool=tool)


def _generation_record(gen: TclGeneration) -> dict[str, Any]:
    return {"question": gen.task, "text": gen.script or gen.message or "", "backend": gen.backend,
            "model": gen.model, "sources": [s.model_dump(mode="json") for s in gen.sources]}


TCL_GENERATE = register(Job(
    name="tcl_generate", title="Write a Tcl script", mode="tcl",
    description="Describe a task; get a yosys or OpenROAD Tcl script, checked by the real tool and repaired.",
    request=TclGenerateRequest, result=TclGeneration, run=_generate,
    render_markdown=_generation_markdown, render_blocks=_generation_blocks, from_text=_task,
    feedback=_generation_record, cli=("tcl", "generate"), profile=PROFILE, slack_verb="tcl",
    usage="tcl TASK [--tool yosys|openroad]", max_chars=4000,
    downloads=lambda gen: [("script.tcl", gen.script)] if gen.script else [],
))
