"""bench/tcl_replay.py: a recorded first answer replayed through today's round 0 (fix-its, check, the task's
files judged) and the bench's judge, with the real yosys; the verdict stored in the record is the baseline."""
from __future__ import annotations

import json

from bench.tcl_replay import TASK_FILES, replay
from assistant.tcl.tasks import OUT_DIR, design_root, load_tasks


def test_replay_judges_todays_round_0_against_the_record(yosys, tmp_path):
    tasks_file = TASK_FILES[0]  # the shipped sample set
    loaded = load_tasks(tasks_file)
    tasks = {t["id"]: (t, design_root(tasks_file, loaded)) for t in loaded}
    ref = tasks["tcl01"][0]["reference"].replace("<out>", "out")
    bare = "```tcl\n" + ref.replace("yosys ", "") + "```"  # no prefixes: the raw answer fails, the fix-its mend it
    wrong = "```tcl\n" + ref.replace("write_verilog -noattr out/uart_synth.v", "write_verilog -noattr x.v") + "```"
    wrong = wrong.replace("yosys write_verilog -noattr x.v\n", "")  # never writes the task's file
    records = tmp_path / "rec.jsonl"
    records.write_text("".join(json.dumps({"task": "tcl01", "references": False, "ok": ok, "rounds_used": 0,
                                           "calls": [{"answer": a}]}) + "\n"
                               for a, ok in ((bare, False), (wrong, True))))
    out = tmp_path / "empty" / OUT_DIR
    out.mkdir(parents=True)
    first, second = replay([records], tasks, out)
    assert (first["raw"], first["then"], first["now"]) == (False, False, True)
    assert any("yosys passes need the prefix" in f for f in first["fixes"])
    # the Verilog netlist has no one certain writer: the loop would go on to round 1, so not a pass at round 0
    assert (second["then"], second["loop"], second["now"]) == (True, False, False)
