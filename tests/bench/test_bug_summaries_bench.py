"""bench/bug_summaries.py: expected facts from the bug record, and its core run on the sample export with the
real SmolLM2-135M GGUF (2 bugs, both summary kinds, against the digest)."""
from __future__ import annotations

import json

from bench.bug_summaries import BUGS, FACTS, expected_facts, facts_kept, run
from corpora.types import BugComment, BugRecord


def _bug(**kw) -> BugRecord:
    base = dict(id="PICO-116", title="synth_top.tcl fails on CI after the yosys upgrade", component="flow",
                assignee="sam.okafor",
                description="Since yosys 0.23 it fails with `ERROR: Assertion failed: selection is not empty` at "
                            "the latch check.",
                comments=[BugComment(author="sam.okafor", text="Looking. Local runs pass."),
                          BugComment(author="sam.okafor", text="Escaped the dollar: t:\\$_DLATCH_N_ is fixed now.")])
    return BugRecord(**{**base, **kw})


def test_expected_facts_come_from_the_record():
    e = expected_facts(_bug())
    assert (e["id"], e["component"], e["owner"]) == ("PICO-116", "flow", "sam.okafor")
    assert e["error"] == ["ERROR"]  # the quoted tool message, not the title
    assert e["fix"] == ["t:$_DLATCH_N_"]  # the first comment announcing a change
    open_bug = expected_facts(_bug(description="No quote here.", comments=[], assignee=""))
    assert open_bug["fix"] is None and open_bug["owner"] is None
    assert open_bug["error"] == ["synth_top.tcl", "CI"]  # the title's key terms
    kept = facts_kept(e, "Sam Okafor fixed PICO-116 in the flow: select t:$_DLATCH_N_ now escapes the ERROR.")
    assert kept == {"id": True, "component": True, "owner": True, "error": True, "fix": True}
    assert facts_kept(e, "PICO-1160 workflow, sam.okafo") == {f: False for f in FACTS}


def test_smoke_run_on_the_sample_export(smol_gguf, tmp_path):
    report = run(BUGS, str(smol_gguf), limit=2, llm={"context_tokens": 768, "threads": 1}, data_dir=tmp_path)
    report = json.loads(json.dumps(report))  # what the bench writes
    assert report["bugs"] == 2 and report["kinds"] == ["technical", "managerial"]
    assert set(report["metrics"]) == {"LLM technical", "LLM managerial", "LLM all kinds", "LLM + facts line",
                                      "digest (baseline)"}
    for m in report["metrics"].values():
        assert {*FACTS, "mean", "seconds_p50", "fallbacks"} <= set(m)
    digest = report["metrics"]["digest (baseline)"]
    assert digest["id"] == digest["component"] == digest["owner"] == 1.0  # the digest lists the fields
    shown = report["metrics"]["LLM + facts line"]  # the facts line above the summary carries them too
    assert shown["id"] == shown["component"] == shown["owner"] == 1.0
    for row in report["rows"]:
        for kind in ("technical", "managerial"):
            llm = row["llm"][kind]
            assert not llm["fallback"] and llm["text"].strip() and llm["calls"] >= 1 and llm["seconds"] > 0
        assert row["digest"]["text"].startswith(f"Bug {row['id']}")
