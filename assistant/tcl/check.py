"""The three-level Tcl check behind `chipassist tcl check` and the generation repair loop.

1. syntax (:mod:`assistant.tcl.syntax`), 2. commands and options (:mod:`assistant.tcl.lint`),
3. a sandboxed run in the real tool (:mod:`assistant.tcl.run`; only where the tool is installed, the
sandbox can be set up and the syntax is sound; otherwise ``run.skipped_reason`` says why). A script
with ``unsafe`` lint findings (exec, sockets, writes outside the sandbox...) fails the check; it is
still run (confined) unless ``run_unsafe=False``, which generation uses for the scripts it writes.

    result = check_script(Path("flow.tcl").read_text(), tool="yosys", design=Path("top.v"))
    result.ok, result.model_dump()      # {"ok", "syntax", "lint", "run"}

Bad input (a script that is not UTF-8 or too large, a missing design file, an unknown tool) raises
:class:`TclInputError` naming the file or field.
"""
from __future__ import annotations

from pathlib import Path

from assistant.tcl.commands import TOOLS, get_db
from assistant.tcl.lint import ADVISORY, lint_script, unsafe_issues
from assistant.tcl.run import SCRIPT_NAME, RunConfig, run_script
from assistant.tcl.syntax import check_syntax
from assistant.tcl.yosys_db import YosysNotFound
from assistant.types import CheckResult, RunResult

MAX_SCRIPT_BYTES = 1_000_000  # EDA flow scripts are a few KB; anything this big is a mistake or an attack


class TclInputError(ValueError):
    """Bad input to the checker; the message names the file or field."""


def decode_script(data: bytes, name: str = "script") -> str:
    """Bytes -> text, refusing oversized or non-UTF-8 input with a message naming ``name``."""
    if len(data) > MAX_SCRIPT_BYTES:
        raise TclInputError(f"{name}: {len(data):,} bytes is over the {MAX_SCRIPT_BYTES:,}-byte limit for a "
                            "Tcl script; refusing to check it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise TclInputError(f"{name}: not UTF-8 text (invalid byte 0x{data[e.start]:02x} at line {line}, "
                            f"byte offset {e.start})") from e


def read_script(path: Path) -> str:
    """Read a script file, with the same checks as :func:`decode_script`."""
    path = Path(path)
    if not path.is_file():
        raise TclInputError(f"script file not found: {path}")
    if path.stat().st_size > MAX_SCRIPT_BYTES:  # refuse before reading 10 MB into memory
        raise TclInputError(f"{path}: {path.stat().st_size:,} bytes is over the {MAX_SCRIPT_BYTES:,}-byte "
                            "limit for a Tcl script; refusing to check it")
    return decode_script(path.read_bytes(), str(path))


def design_paths(design: Path | str | list[Path] | None) -> list[Path]:
    """Normalise ``design`` to a list of existing paths; a missing one is a TclInputError."""
    if design is None:
        return []
    paths = [Path(design)] if isinstance(design, (str, Path)) else [Path(p) for p in design]
    for p in paths:
        if not p.exists():
            raise TclInputError(f"design file not found: {p}")
    return paths


def check_script(script: str | bytes, *, tool: str = "yosys", design: Path | list[Path] | None = None,
                 run: bool = True, run_config: RunConfig | None = None, data_dir: Path | None = None,
                 index_dir: Path | None = None, artifacts_dir: Path | None = None,
                 script_name: str = SCRIPT_NAME, user_groups=None, run_unsafe: bool = True,
                 secrets: list[str] = ()) -> CheckResult:
    """Check a Tcl script for ``tool`` at all three levels; ``ok`` only if every level passed
    (advisory lint findings, such as commands a sourced file may define, do not fail it).
    Commands learnt from ``index_dir`` come only from chunks visible to ``user_groups`` (None: public only).
    ``script_name`` places the script in the sandbox (see :func:`assistant.tcl.run.run_script`).
    ``run_unsafe=False`` skips the run of a script with unsafe findings (a generated one: the user did
    not write it). ``secrets`` are values to redact from the run's output (the server's keys and tokens)."""
    if tool not in TOOLS:
        raise TclInputError(f"tool: unknown tool {tool!r} (choose from {', '.join(TOOLS)})")
    if isinstance(script, bytes):
        script = decode_script(script)
    elif len(script.encode("utf-8", errors="replace")) > MAX_SCRIPT_BYTES:
        raise TclInputError(f"script: over the {MAX_SCRIPT_BYTES:,}-byte limit for a Tcl script; refusing to check it")
    designs = design_paths(design)

    syntax = check_syntax(script)
    try:
        lint = lint_script(script, get_db(tool, data_dir, index_dir, user_groups))
        lint_note = None
    except YosysNotFound as e:
        lint, lint_note = [], f"{e}: command check and run skipped"
    if lint_note:
        result_run = RunResult(ran=False, tool=tool, skipped_reason=lint_note)
    elif not run:
        result_run = RunResult(ran=False, tool=tool, skipped_reason="run not requested")
    elif syntax:
        result_run = RunResult(ran=False, tool=tool, skipped_reason="syntax errors: not run")
    elif not run_unsafe and (unsafe := unsafe_issues(lint)):
        where = ", ".join(f"{i.command} at line {i.line}" for i in unsafe[:5])
        result_run = RunResult(ran=False, tool=tool, skipped_reason=f"not run: the script uses unsafe constructs "
                               f"({where}); it runs only when asked explicitly (and then in the sandbox)")
    else:
        result_run = run_script(script, tool=tool, design=designs, config=run_config, artifacts_dir=artifacts_dir,
                                script_name=script_name, secrets=secrets)
    failing = [i for i in lint if i.problem not in ADVISORY]
    return CheckResult(ok=not syntax and not failing and result_run.ok, syntax=syntax, lint=lint, run=result_run)
