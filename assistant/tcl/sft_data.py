"""SFT rows for Tcl generation from checked tasks (`assistant.tcl.tasks`): the generator's own first prompt for a
task, answered by the task's reference script.

The prompt is not rebuilt here: each task goes through `generate_script` with the configured model's tokenizer
and budgets, and a stand-in for the model that records the messages it is sent and answers with the reference.
So a model tuned on these rows sees at training time exactly what it will see when it writes scripts (the
design summary, the cookbook examples, the command hints, the same token budget), and a change to the prompt
builder changes the training data with it. Only tasks whose reference passes its own checks are written; the
others are reported, not trained on.

Repair rows (``repairs``): the model's own failing scripts for a task, recorded by a bench run
(bench/tcl_generation.py's JSONL records), are replayed as its first answer; the generator's fix-its and checker
run on them for real, and the repair prompt they lead to (the numbered script, the exact tool problems, the
usage help) is answered by the reference. So the model learns the repair turn it is given in the loop, from
its own mistakes; a replayed script that solves the task after the fix-its gives no row.

The site's script library (``tcl.library``) is left out of the rows' prompts: the tasks trained on are usually
in it, and a row whose prompt shows its own reference teaches copying, not writing.

Run: `chipassist tcl sft-data TASKS.jsonl [TASKS.jsonl ...] --out runs/tcl-sft/sft.jsonl`, then point a recipe's
`gendata.file` at it (adapters/recipes/qwen-coder-1.5b-tcl-cpu.yaml).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterable

from assistant.llm.base import LLMProxy
from assistant.tcl.generate import extract_script
from assistant.tcl.tasks import OUT_DIR, design_root, evaluate_task, load_tasks, out_paths, task_designs
from corpora.jsonl import read_jsonl, write_jsonl


class _ReferenceAnswer(LLMProxy):
    """Stands in for the configured LLM: counts tokens with it (the prompt's budget is the model's), answers the
    first calls with ``before`` (recorded answers of the model), then records the prompt it is sent and answers
    with the reference script."""

    def __init__(self, llm, reference: str, before: Iterable[str] = ()) -> None:
        super().__init__(llm)
        self.reference, self.before, self.messages = reference, list(before), None

    def complete(self, messages, **kw) -> str:
        """The queued replies first, then the reference; the first prompt that asks for the reference is kept."""
        if self.before:
            return self.before.pop(0)
        if self.messages is None:
            self.messages = [dict(m) for m in messages]
        return answer_block(self.reference)


def answer_block(script: str) -> str:
    """The answer the generator's prompt asks for: the whole script in one ```tcl block."""
    return f"```tcl\n{script.rstrip()}\n```"


def task_row(bot, task: dict, root: Path, out_dir: Path, references: bool | None = False,
             first: str | None = None) -> dict | None:
    """One chat row {id, kind, messages} for ``task``: its first generation prompt and its reference script;
    with ``first`` (a recorded answer of the model), the repair prompt that answer leads to instead, or None
    when it solves the task (as fixed). ``references`` as in `generate_script` (False: the prompt the CPU model
    is run with)."""
    reference = out_paths(task["reference"])
    llm = bot.llm
    stand_in = _ReferenceAnswer(llm, reference, [first] if first is not None else [])
    bot.llm = stand_in
    try:
        bot.tcl_generate(out_paths(task["task"]), tool=task.get("tool", "yosys"),
                         design=[*task_designs(task, root), out_dir], rounds=int(first is not None),
                         references=references)
    finally:
        bot.llm = llm
    if stand_in.messages is None:
        if first is not None:
            return None
        raise ValueError(f"task {task['id']}: the generator asked the model nothing")
    if first is not None:
        # The generator also sends back a script that passes every check but lacks the task's key option; when
        # that script (as fixed) solves the task after all, there is nothing to repair: no row.
        failing = next(m["content"] for m in reversed(stand_in.messages) if m["role"] == "assistant")
        if evaluate_task(task, extract_script(failing), root)[0]:
            return None
        # the failing script it is asked to repair is context, not something to learn
        stand_in.messages = [{**m, "weight": 0} if m["role"] == "assistant" else m for m in stand_in.messages]
    return {"id": str(task["id"]) + ("/repair" if first is not None else ""), "kind": "tcl",
            "messages": stand_in.messages + [{"role": "assistant", "content": answer_block(reference)}]}


def recorded_answers(record_files: Iterable[Path], references: bool | None = False) -> dict[str, list[str]]:
    """Task id -> the distinct answers the model gave in bench records (bench/tcl_generation.py's JSONL:
    {task, references, library, calls: [{answer}]}) run with ``references`` and without the site library (the
    rows' prompts never show it), in the order written."""
    answers: dict[str, list[str]] = {}
    for f in record_files:
        for n, r in read_jsonl(Path(f)):
            if not isinstance(r, dict) or "task" not in r or not isinstance(r.get("calls"), list):
                raise ValueError(f"{f}:{n}: a record without 'task' and 'calls' (not a bench/tcl_generation.py record)")
            if r.get("references") is not references or r.get("library"):
                continue  # another prompt than the rows': with references, or with the site library
            seen = answers.setdefault(str(r["task"]), [])
            for c in r["calls"]:
                if c.get("answer") and c["answer"] not in seen:
                    seen.append(c["answer"])
    return answers


def write_sft_rows(bot, task_files: Iterable[Path], out: Path, references: bool | None = False,
                   exclude: set[str] = frozenset(), progress: Callable | None = None,
                   repairs: dict[str, list[str]] | None = None) -> dict:
    """Write one row per checked task of ``task_files`` to ``out`` (JSONL, atomically), and a repair row per
    failing answer in ``repairs`` (see `recorded_answers`); tasks whose reference fails its checks, or whose id
    is in ``exclude``, are skipped and reported. Returns the report."""
    if bot.llm is None:
        raise ValueError("sft-data needs the model the rows are for (its tokenizer and prompt budget): "
                         "configure llm.backend, e.g. --backend llamacpp")
    settings = getattr(bot, "settings", None)
    library = bool(settings and settings.tcl.library)
    if library:  # a row must not show its own reference as a worked example: a copy of the settings without it
        bot.settings = settings.model_copy(update={"tcl": settings.tcl.model_copy(update={"library": []})})
    try:
        rows, skipped, n_repairs = _rows(bot, task_files, references, exclude, progress, repairs or {})
    finally:
        if library:
            bot.settings = settings
    write_jsonl(Path(out), rows)
    return {"out": str(out), "rows": len(rows), "repair_rows": n_repairs, "skipped": skipped,
            "library": "left out" if library else "none",
            "prompt_tokens": [bot.llm.count_tokens("\n".join(m["content"] for m in r["messages"][:-1])) for r in rows],
            # the whole row, answer included (what a recipe's sft.block_size must hold, plus the chat template's
            # few tokens a message)
            "row_tokens": [bot.llm.count_tokens("\n".join(m["content"] for m in r["messages"])) for r in rows]}


def _rows(bot, task_files: Iterable[Path], references: bool | None, exclude: set[str], progress: Callable | None,
          repairs: dict[str, list[str]]) -> tuple[list[dict], list[dict], int]:
    """The rows of :func:`write_sft_rows`, the tasks skipped with why, and how many rows are repair rows."""
    rows, skipped, seen, n_repairs = [], [], {}, 0
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / OUT_DIR
        out_dir.mkdir()
        for f in task_files:
            tasks = load_tasks(f)
            root = design_root(f, tasks)
            for t in tasks:  # a row id, and the records' repairs, are keyed by task id: it must name one task
                if str(t["id"]) in seen:
                    raise ValueError(f"task id {t['id']!r} is in both {seen[str(t['id'])]} and {f}")
                seen[str(t["id"])] = f
            for t in (progress or (lambda xs, **_: xs))(tasks, description=str(f)):
                if str(t["id"]) in exclude:
                    skipped.append({"id": t["id"], "file": str(f), "why": "excluded"})
                    continue
                if not t.get("reference"):
                    skipped.append({"id": t["id"], "file": str(f), "why": "no reference script"})
                    continue
                ok, why = evaluate_task(t, t["reference"], root)
                if not ok:
                    skipped.append({"id": t["id"], "file": str(f), "why": f"reference fails: {why}"})
                    continue
                task_rows = [task_row(bot, t, root, out_dir, references)]
                for answer in repairs.get(str(t["id"]), []):
                    row = task_row(bot, t, root, out_dir, references, first=answer)
                    if row is not None and row["messages"] not in [r["messages"] for r in task_rows]:
                        row["id"] += str(len(task_rows))  # y12/repair1, y12/repair2, ...
                        task_rows.append(row)
                rows += task_rows
                n_repairs += len(task_rows) - 1
    return rows, skipped, n_repairs
