"""Checked Tcl tasks: a request, its designs, a reference script and checks of the result, one JSON object a line
({id, task, design, top, checks, reference[, tool]}). The same file is a benchmark (`bench/tcl_bench.py`,
`bench/tcl_generation.py`) and, through its references, training data (`chipassist tcl sft-data`).

`<out>` in a task names its output folder: a folder `out` made empty in the sandbox before the run.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from assistant.tcl.check import check_script
from assistant.tcl.run import RUN_LOG
from corpora.jsonl import read_jsonl

OUT_DIR = "out"  # what a task's `<out>` means inside the sandbox
SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"  # the designs of tasks shipped without theirs


def task_designs(task: dict, root: Path) -> list[Path]:
    """What to copy into the sandbox: a design under a folder (rtl/uart.v) brings its folder, so the
    reference's relative paths work; the generator is told the same names."""
    d = task.get("design") or []
    out: list[Path] = []
    for rel in [d] if isinstance(d, str) else d:
        parts = Path(rel).parts
        path = root / parts[0]
        if path not in out:
            out.append(path)
    return out


def _found(check: dict, text: str) -> bool:
    """A check's "text" is literal; a "pattern" is a regular expression."""
    return check["text"] in text if "text" in check else re.search(check["pattern"], text) is not None


def task_checks_pass(task: dict, result, artifacts: Path) -> tuple[bool, str]:
    """The task's own checks of the result: files that must exist, text the log or a file must hold."""
    log_file = artifacts / RUN_LOG
    log = log_file.read_text(errors="replace") if log_file.is_file() else result.run.log_tail
    for check in task.get("checks", []):
        if isinstance(check, str):
            kind, _, arg = check.partition(":")
            check = {"type": kind, "path" if kind.startswith("file") else "text": arg}
        kind = check.get("type")
        # files the script wrote to /tmp/x are kept under tmp/x (the run's private /tmp)
        path = artifacts / out_paths(check["path"]).lstrip("/") if check.get("path") else None
        want = check.get("text", check.get("pattern"))
        if kind == "file_exists" and not (path and path.is_file()):
            return False, f"missing file {check.get('path')}"
        if kind == "file_contains" and not (path and path.is_file() and _found(check, path.read_text(errors="replace"))):
            return False, f"{check.get('path')} lacks {want!r}"
        if kind in ("log_contains", "log_matches") and not _found(check, log):
            return False, f"log lacks {want!r}"
        if kind not in ("file_exists", "file_contains", "log_contains", "log_matches"):
            return False, f"unknown check type {kind!r}"
    return True, ""


def out_paths(text: str) -> str:
    """Tasks name their output folder `<out>`: a folder `out` in the sandbox (created before the run)."""
    return text.replace("<out>", OUT_DIR)


def safe_name(name) -> str:
    """``name`` as a file name: anything but word characters, dots and dashes becomes `_`."""
    return re.sub(r"[^\w.-]", "_", str(name))


def evaluate_task(task: dict, script: str | None, root: Path) -> tuple[bool, str]:
    """Whether ``script`` solves ``task`` (designs under ``root``): all three check levels pass in the
    sandbox, then the task's own checks of the result; with the reason when it does not."""
    if script is None:
        return False, "no script"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "empty" / OUT_DIR
        out.mkdir(parents=True)
        result = check_script(out_paths(script), tool=task.get("tool", "yosys"), design=task_designs(task, root) + [out],
                              artifacts_dir=Path(tmp) / "artifacts", script_name=f"flows/{safe_name(task['id'])}.tcl")
        if not result.ok:
            problems = [f"line {i.line} {i.problem} {i.command} {i.option or ''}" for i in result.lint]
            problems += [f"line {e.get('line')}: {e.get('message')}" for e in result.run.errors]
            return False, "check failed: " + "; ".join(problems)[:200]
        return task_checks_pass(task, result, Path(tmp) / "artifacts")


def load_tasks(tasks_file: Path) -> list[dict]:
    """The tasks of a JSONL file, one {id, task, design, top, checks, reference} a line; ValueError naming the
    file and line for a line that is not a task."""
    tasks = []
    for n, task in read_jsonl(tasks_file):
        if not isinstance(task, dict) or not isinstance(task.get("task"), str) or "id" not in task:
            raise ValueError(f"{tasks_file}:{n}: a task needs an \"id\" and a \"task\" text")
        tasks.append(task)
    return tasks


def design_root(tasks_file: Path, tasks: list[dict]) -> Path:
    """Where a task's design paths (rtl/uart.v) are found: the folder above eval/ for a file in an eval/
    folder (corpora/sample/eval/tcl_tasks.jsonl), else the tasks file's own folder when it holds them,
    else the sample corpus (the held-out set in bench/data/ uses the sample designs)."""
    tasks_file = Path(tasks_file)
    if tasks_file.parent.name == "eval":
        return tasks_file.parent.parent
    first = next((t.get("design") for t in tasks if t.get("design")), None)
    first = first if isinstance(first, str) or first is None else first[0]
    if first is None or (tasks_file.parent / first).exists():
        return tasks_file.parent
    return SAMPLE
