"""Replay recorded model answers through today's fix-its and checks: pass@0 of a fix-it change, with no model.

    python bench/tcl_replay.py                                  # every kept record set (bench/data/tcl_records/)
    python bench/tcl_replay.py --records bench/out/tcl_generation.jsonl --tasks bench/data/tcl_tasks_sft_test.jsonl
    python bench/tcl_replay.py --changed                        # list the tasks whose verdict differs from the record

A round-0 prompt does not depend on the fix-its, so at temperature 0 the model's first answer is the same
before and after a fix-it change: replaying the recorded first answer through today's round 0
(`assistant.tcl.generate.first_round`: fix-its, check, the task's files judged) and the bench's own judge
(`evaluate_task`) gives the pass@0 the current code would get on those tasks, in minutes instead of hours of
llama.cpp: "now" needs both, the loop stopping at round 0 and the judge passing the script. (One case differs:
a task whose key hint the script lacks goes back once; the bench counts it at round 0 only if that round breaks
the script.) The baseline in the same run is the verdict stored in each record (the code that made it) and the
raw answer judged as written. Repairs (pass@1..3) need the model again: run bench/tcl_generation.py for those.

Every kept record set is tuned on (bench/README.md says which); a clean number needs tasks never read.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from assistant.tcl.tasks import OUT_DIR, design_root, evaluate_task, load_tasks, out_paths, task_designs  # noqa: E402
from corpora.jsonl import read_jsonl  # noqa: E402

RECORDS = ROOT / "bench" / "data" / "tcl_records"
TASK_FILES = [ROOT / "corpora" / "sample" / "eval" / "tcl_tasks.jsonl", ROOT / "bench" / "data" / "tcl_tasks_heldout.jsonl",
              ROOT / "bench" / "data" / "tcl_tasks_sft_test.jsonl", ROOT / "bench" / "data" / "tcl_tasks_test2.jsonl"]
console = Console()


def replay(records: list[Path], tasks: dict[str, tuple[dict, Path]], out_dir: Path) -> list[dict]:
    """One row per recorded task (round 0, references off, no library): the stored verdict, the raw answer's,
    and today's: the loop stops at round 0 (its own checks) and the bench's judge passes the script."""
    from assistant.tcl.generate import extract_script, first_round, passes
    rows = []
    recs = [(f, r) for f in records for _, r in read_jsonl(f)
            if not r.get("references") and not r.get("library") and r.get("calls") and r["task"] in tasks]
    for f, rec in track(recs, description="replaying", console=console):
        task, root = tasks[rec["task"]]
        answer = rec["calls"][0]["answer"]
        gen = first_round(answer, out_paths(task["task"]), task.get("tool", "yosys"),
                          [*task_designs(task, root), out_dir])
        ok, why = evaluate_task(task, gen.script, root)
        raw_ok, _ = evaluate_task(task, extract_script(answer), root)
        rows.append({"records": f.name, "task": rec["task"], "then": bool(rec["ok"] and rec["rounds_used"] == 0),
                     "raw": raw_ok, "now": ok and passes(gen), "judge": ok, "loop": passes(gen), "why": why,
                     "wrong_outputs": gen.wrong_outputs, "fixes": gen.fixes, "script": gen.script})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=Path, nargs="+", default=sorted(RECORDS.glob("*.jsonl")))
    ap.add_argument("--tasks", type=Path, nargs="+", default=[f for f in TASK_FILES if f.is_file()])
    ap.add_argument("--changed", action="store_true", help="print the tasks whose pass@0 changed, with the script")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "tcl_replay.jsonl")
    args = ap.parse_args()
    tasks = {}
    for f in args.tasks:
        loaded = load_tasks(f)
        root = design_root(f, loaded)
        tasks.update({t["id"]: (t, root) for t in loaded})
    out_dir = ROOT / "bench" / "out" / "tcl_gen_empty" / OUT_DIR  # the empty `<out>` the generation bench gives
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = replay(args.records, tasks, out_dir)
    from corpora.jsonl import write_jsonl
    write_jsonl(args.out, rows)
    table = Table(title="Recorded first answers replayed through today's fix-its (pass@0, no model)")
    for col in ("records", "tasks", "raw", "pass@0 recorded", "pass@0 now", "now / recorded", "gained", "lost"):
        table.add_column(col, justify="left" if col == "records" else "right")
    for name in sorted({r["records"] for r in rows}) + ["all"]:
        part = [r for r in rows if name in ("all", r["records"])]
        n, then, now = len(part), sum(r["then"] for r in part), sum(r["now"] for r in part)
        gained = [r["task"] for r in part if r["now"] and not r["then"]]
        lost = [r["task"] for r in part if r["then"] and not r["now"]]
        table.add_row(name, str(n), f"{sum(r['raw'] for r in part)}/{n}", f"{then / n:.0%}", f"{now / n:.0%}",
                      f"{now / then:.2f}x" if then else "-", str(len(gained)), str(len(lost)))
    console.print(table)
    for what, ids in (("gained", [r["task"] for r in rows if r["now"] and not r["then"]]),
                      ("lost", [r["task"] for r in rows if r["then"] and not r["now"]])):
        console.print(f"{what}: {' '.join(ids) or '-'}")
    if args.changed:
        for r in rows:
            if r["now"] != r["then"]:
                console.print(f"[bold]{r['task']}[/] {'gained' if r['now'] else 'lost'}: {r['why']}\n{r['script']}")
    console.print(f"rows: {args.out}")
    print(json.dumps({"tasks": len(rows), "pass0_recorded": sum(r["then"] for r in rows),
                      "pass0_now": sum(r["now"] for r in rows)}))


if __name__ == "__main__":
    main()
