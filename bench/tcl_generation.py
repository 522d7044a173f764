"""Tcl generation with a real model: pass rate after 0-3 repair rounds, with and without retrieved references.

    python bench/tcl_generation.py                                   # held-out tasks, the embedded 1.5B model
    python bench/tcl_generation.py --tasks corpora/sample/eval/tcl_tasks.jsonl --limit 4   # the dev set, quick
    python bench/tcl_generation.py --model smollm2-135m --limit 3     # plumbing check with the tiny model
    python bench/tcl_generation.py --tasks bench/data/tcl_tasks_sft_test.jsonl --references off \
        --against runs/qwen-coder-1.5b-tcl-cpu/export/model.Q4_K_M.gguf   # the SFT model against its base
    python bench/tcl_generation.py --tasks bench/data/tcl_tasks_sft_test.jsonl --references off \
        --library corpora/sample/eval/tcl_tasks.jsonl bench/data/tcl_tasks_heldout.jsonl  # without and with tcl.library

Each task runs once per reference setting with 3 repair rounds (`--rounds N`) through the product's own loop
(`Assistant.tcl_generate`: fix-its, check, repair); pass@r counts the tasks whose script passed the three
check levels within r repairs AND the task's own checks of the result (assistant.tcl.tasks.evaluate_task).
The baseline measured in the same run is the model's first script as written, with no fix-its and no repair
("raw"). Prompts and answers are recorded so failures can be read (bench/out/tcl_generation.jsonl, or
--records F); the records are also what `chipassist tcl sft-data --repairs` makes repair rows from.

The held-out set (bench/data/tcl_tasks_heldout.jsonl) was written before the prompts were tuned, and tuning
used only the 12 dev tasks in corpora/sample/eval/tcl_tasks.jsonl; report the held-out numbers. The SFT
recipe (adapters/recipes/qwen-coder-1.5b-tcl-cpu.yaml) trains on the dev and held-out references, so an
SFT model is measured only on bench/data/tcl_tasks_sft_test.jsonl, which no training row comes from.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from assistant.llm.base import LLMProxy  # noqa: E402
from assistant.tcl.tasks import (OUT_DIR, design_root, evaluate_task, load_tasks,  # noqa: E402
                                 out_paths as _out, task_designs as _designs)
from retriever.layout import write_atomic  # noqa: E402

HELDOUT = ROOT / "bench" / "data" / "tcl_tasks_heldout.jsonl"
RESULTS = ROOT / "bench" / "out"
ROUNDS = 3
console = Console()


class Recorder(LLMProxy):
    """Wraps an LLM backend and keeps every prompt and answer (the product's loop is unchanged)."""

    def __init__(self, llm) -> None:
        super().__init__(llm)
        self.calls = []

    def complete(self, messages, **kw) -> str:
        started = time.perf_counter()
        text = self.llm.complete(messages, **kw)
        prompt_tokens = self.llm.count_tokens("\n".join(m["content"] for m in messages))
        self.calls.append({"prompt_tokens": prompt_tokens, "seconds": round(time.perf_counter() - started, 2),
                           "messages": messages, "answer": text})
        return text


def _bot(model: str, index: Path, data: Path, threads: int = 0, library: list[Path] | tuple = ()):
    from assistant.config import load_settings
    from assistant.service import Assistant

    bot = Assistant(load_settings(index_dir=index, data_dir=data, tcl={"library": [str(p) for p in library]},
                                  llm={"backend": "llamacpp", "model_path": model, "temperature": 0.0,
                                       "max_new_tokens": 400, "threads": threads}))
    bot.llm = Recorder(bot.llm)
    return bot


def _ensure_index(index: Path) -> None:
    if not index.is_dir():  # the sample corpus's index, built once for the references
        from retriever.index import build_index

        build_index([ROOT / "corpora" / "sample"], index, progress=True)


def library_without(library: list[Path], tasks: list[dict], folder: Path) -> list[Path]:
    """The ``library`` task files without the tasks being measured (same id or text), written to ``folder``: a
    task shown its own reference as a worked example would measure nothing."""
    from corpora.jsonl import write_jsonl

    ids, texts = {str(t["id"]) for t in tasks}, {t["task"] for t in tasks}
    out = [folder / f"{i}_{Path(path).name}" for i, path in enumerate(library)]
    for path, kept in zip(library, out):
        write_jsonl(kept, [t for t in load_tasks(path) if str(t["id"]) not in ids and t["task"] not in texts])
    return out


def run(tasks_file: Path, model: str, limit: int | None, settings: list[bool], index: Path,
        threads: int = 0, skip: int = 0, records: Path = RESULTS / "tcl_generation.jsonl",
        rounds: int = ROUNDS, library: list[Path] = (), only_library: bool = False) -> dict:
    """Run tasks ``skip+1 ...`` (at most ``limit``) of ``tasks_file`` through ``model`` once per reference
    setting, and once more with the ``library`` task files as worked examples (``tcl.library``, the measured
    tasks left out) when given (only that with ``only_library``); returns the report (pass@r per setting) and
    writes one record a task to ``records``, atomically when the run ends (and a line a task to
    ``<records>.partial`` as it goes, removed at the end)."""
    from assistant.tcl.generate import extract_script
    from corpora.jsonl import write_jsonl

    tasks = load_tasks(tasks_file)[skip:][:limit]
    root = design_root(tasks_file, tasks)
    rows, done = {}, []
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_dir = RESULTS / "tcl_gen_empty" / OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    records.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(f"{records}.partial")
    progress_log = partial.open("w")  # one line a task, as it finishes
    # one folder per records file: two runs side by side do not overwrite each other's library
    library = library_without(library, tasks, Path(f"{records}.library")) if library else []
    plain = [] if only_library and library else [(refs, []) for refs in settings]
    for refs, lib in plain + [(refs, library) for refs in settings if library]:
        bot = _bot(model, index, RESULTS / "tcl_gen_data", threads, lib)
        label = ("with references" if refs else "without references") + (", with the library" if lib else "")
        stats = {"raw": 0, **{f"pass@{r}": 0 for r in range(rounds + 1)}, "calls": 0, "seconds": 0.0,
                 "prompt_tokens": [], "fixes": 0}
        for t in track(tasks, description=label, console=console):
            recorder = bot.llm
            recorder.calls.clear()
            started = time.perf_counter()
            # the sandbox gets an empty `out` folder, as evaluate_task gives the script it judges: a task's
            # `<out>/x` must be writable while the product checks its own script too
            gen = bot.tcl_generate(_out(t["task"]), tool=t.get("tool", "yosys"), design=[*_designs(t, root), out_dir],
                                   rounds=rounds, references=refs)
            seconds = time.perf_counter() - started
            raw_ok = bool(recorder.calls) and evaluate_task(t, extract_script(recorder.calls[0]["answer"]), root)[0]
            ok, why = evaluate_task(t, gen.script, root) if gen.check and gen.check.ok else (False, "check failed")
            stats["raw"] += raw_ok
            for r in range(rounds + 1):
                stats[f"pass@{r}"] += ok and gen.rounds_used <= r
            stats["calls"] += len(recorder.calls)
            stats["seconds"] += seconds
            stats["prompt_tokens"] += [c["prompt_tokens"] for c in recorder.calls]
            stats["fixes"] += len(gen.fixes)
            done.append({"task": t["id"], "references": refs, "library": bool(lib), "raw_ok": raw_ok, "ok": ok,
                         "why": why, "rounds_used": gen.rounds_used, "fixes": gen.fixes, "script": gen.script,
                         "message": gen.message,
                         "calls": [{k: c[k] for k in ("prompt_tokens", "seconds", "answer")} for c in recorder.calls]})
            progress_log.write(json.dumps(done[-1]) + "\n")
            progress_log.flush()
        rows[label] = stats
    progress_log.close()
    write_jsonl(records, done)
    partial.unlink()  # the whole file is in place: the partial one would only mislead
    return {"tasks": len(tasks), "file": str(tasks_file), "model": model, "rounds": rounds, "rows": rows,
            "records": str(records)}


def show(report: dict) -> None:
    """The pass rates of one model after 0..rounds repair rounds, with ratios against its raw and pass@0."""
    n, rounds = report["tasks"], report.get("rounds", ROUNDS)
    table = Table(title=f"Tcl generation, {report['model']}, {n} tasks ({Path(report['file']).name})")
    for col in ("prompt", "raw (baseline)", *[f"pass@{r}" for r in range(rounds + 1)], "x raw", "x pass@0",
                "calls", "s/task", "prompt tok p50"):
        table.add_column(col)
    for label, s in report["rows"].items():
        toks = sorted(s["prompt_tokens"]) or [0]
        best = s[f"pass@{rounds}"]
        table.add_row(label, f"{s['raw']}/{n}", *[f"{s[f'pass@{r}'] / n:.0%}" for r in range(rounds + 1)],
                      f"{best / s['raw']:.2f}x" if s["raw"] else "-",
                      f"{best / s['pass@0']:.2f}x" if s["pass@0"] else "-",
                      str(s["calls"]), f"{s['seconds'] / n:.1f}", str(toks[len(toks) // 2]))
    console.print(table)
    console.print(f"[dim]load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; records in "
                  f"{report.get('records', RESULTS / 'tcl_generation.jsonl')}[/]")


def show_against(base: dict, other: dict) -> None:
    """The second model (e.g. an SFT export) against the first on the same tasks: pass rates and ratios."""
    n, rounds = base["tasks"], base.get("rounds", ROUNDS)
    table = Table(title=f"{Path(other['model']).name} against {Path(base['model']).name}, {n} tasks")
    for col in ("prompt", "model", "raw", "pass@0", f"pass@{rounds}", f"x pass@{rounds} of the first"):
        table.add_column(col)
    for label in base["rows"]:
        first = base["rows"][label][f"pass@{rounds}"]
        for rep in (base, other):
            s = rep["rows"][label]
            table.add_row(label, Path(rep["model"]).name, f"{s['raw']}/{n}", f"{s['pass@0'] / n:.0%}",
                          f"{s[f'pass@{rounds}'] / n:.0%}",
                          f"{s[f'pass@{rounds}'] / first:.2f}x" if first else "-")
    console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=Path, default=HELDOUT)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b", help="embedded model name or GGUF path")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N tasks (run tasks N+1 ...)")
    ap.add_argument("--references", choices=["both", "on", "off"], default="both")
    ap.add_argument("--index", type=Path, default=RESULTS / "tcl_gen_index")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="repair rounds after the first script (pass@0..N)")
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: one per core)")
    ap.add_argument("--out", type=Path, default=None, help="report JSON (default bench/out/tcl_generation.json)")
    ap.add_argument("--against", default=None, help="a second GGUF (e.g. an SFT export) run on the same tasks "
                                                     "and compared with --model, the baseline")
    ap.add_argument("--library", type=Path, nargs="+", default=[],
                    help="task files whose references are shown as worked examples (tcl.library); each prompt "
                         "setting runs without and with them")
    ap.add_argument("--only-library", action="store_true",
                    help="with --library: skip the runs without it (a baseline already recorded)")
    ap.add_argument("--records", type=Path, default=RESULTS / "tcl_generation.jsonl",
                    help="JSONL of every prompt and answer (input of `chipassist tcl sft-data --repairs`); "
                         "--against's go to the same name with .against before the suffix")
    args = ap.parse_args()
    if args.rounds < 0:
        ap.error("--rounds: must be 0 or more")
    if args.only_library and not args.library:
        ap.error("--only-library: needs --library FILE ...")
    if args.against and args.tasks == HELDOUT:
        console.print("[yellow]warning: the SFT recipes train on the held-out set; measure an SFT model on "
                      "bench/data/tcl_tasks_sft_test.jsonl (--tasks)[/]")
    settings = {"both": [True, False], "on": [True], "off": [False]}[args.references]
    _ensure_index(args.index)
    report = run(args.tasks, args.model, args.limit, settings, args.index, args.threads, args.skip, args.records,
                 args.rounds, args.library, args.only_library)
    out = args.out or RESULTS / "tcl_generation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(report, indent=2, default=str))
    show(report)
    if args.against:
        other = run(args.tasks, args.against, args.limit, settings, args.index, args.threads, args.skip,
                    args.records.with_suffix(".against" + args.records.suffix), args.rounds, args.library,
                    args.only_library)
        write_atomic(out, json.dumps({**report, "against": other}, indent=2, default=str))
        show(other)
        show_against(report, other)


if __name__ == "__main__":
    main()
