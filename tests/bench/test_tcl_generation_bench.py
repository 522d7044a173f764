"""bench/tcl_generation.py's library runs: the tasks being measured never reach the library they are shown
examples from (by id or by text), and what is left is still a library the generator loads."""
from __future__ import annotations

import json

from assistant.tcl.library import library_recipes
from bench.tcl_generation import library_without


def test_measured_tasks_are_left_out_of_the_library(tmp_path):
    rows = [{"id": i, "task": task, "top": "u", "reference": f"yosys read_verilog u.v\nyosys {cmd} -top u\n"}
            for i, task, cmd in (("a", "Synthesize u", "synth"), ("b", "Flatten u", "flatten"),
                                 ("c", "Print u's stats", "stat"))]
    lib = tmp_path / "lib.jsonl"
    lib.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # "a" by id; "Flatten u" by its text under another id (the same task copied into another file)
    measured = [{"id": "a", "task": "other words"}, {"id": "z9", "task": "Flatten u"}]
    [kept] = library_without([lib], measured, tmp_path / "out")
    assert [json.loads(ln)["id"] for ln in kept.read_text().splitlines()] == ["c"]
    assert [r.task for r in library_recipes(kept)[0]] == ["Print {top}'s stats"]
