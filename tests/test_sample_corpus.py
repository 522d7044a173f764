"""Checks that the shipped sample corpus (corpora/sample) is what other areas rely on.

Every RTL file synthesizes and every yosys flow runs for real (in a temporary copy, so nothing is
written into the tree), the bug exports parse with the required fields, every retrieval-eval
`contains` string is in its source, the AutoEval sets are well formed and every Tcl task's reference
script passes its own checks. Run: `python -m pytest tests/test_sample_corpus.py -q`.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from retriever.evaluate import normalize

SAMPLE = Path(__file__).resolve().parents[1] / "corpora" / "sample"
YOSYS = shutil.which("yosys")
needs_yosys = pytest.mark.skipif(YOSYS is None, reason="yosys not installed")

# top module -> RTL files (relative to rtl/) it needs
RTL_TOPS = {
    "uart_tx": ["uart_tx.v"],
    "uart_rx": ["uart_rx.v"],
    "uart": ["uart_tx.v", "uart_rx.v", "uart.v"],
    "dma": ["dma.v"],
    "cru": ["cru.v"],
    "timer": ["timer.v"],
    "pico_top": ["cru.v", "dma.v", "uart_tx.v", "uart_rx.v", "uart.v", "timer.v", "pico_top.v"],
    "pico_irq_sync": ["pico_pkg.sv", "pico_irq_sync.sv"],
}
FLOWS = {  # flow -> files it must produce under $PICO_OUT_DIR
    "synth_uart.tcl": ["uart/uart_netlist.v", "uart/uart_area.rpt"],
    "synth_dma.tcl": ["dma/dma_netlist.v", "dma/dma_netlist.json", "dma/dma_area.rpt", "dma/dma_check.rpt"],
    "synth_top.tcl": ["top/pico_top_netlist.v", "top/pico_top_area.rpt", "top/pico_top_hier.rpt"],
    "lint_all.tcl": ["lint/lint.rpt"],
}
BUG_FIELDS = ("id", "title", "description", "comments", "status", "component", "assignee", "reporter",
              "created", "updated", "resolution", "labels", "severity")
STATUSES = {"open", "in_progress", "resolved", "closed"}
COMPONENTS = {"dma", "uart", "cru", "timer", "top", "flow"}


def _jsonl(name: str) -> list[dict]:
    path = SAMPLE / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _yosys(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([YOSYS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def sample_copy(tmp_path) -> Path:
    dst = tmp_path / "sample"
    shutil.copytree(SAMPLE, dst)
    return dst


# ---------------------------------------------------------------- RTL and flows
@needs_yosys
# uart, dma and pico_top are synthesized by their flows below (synth_uart/dma/top.tcl): not twice.
@pytest.mark.parametrize("top", sorted(set(RTL_TOPS) - {"uart", "dma", "pico_top"}))
def test_rtl_synthesizes(top, tmp_path):
    reads = "; ".join(f"read_verilog {'-sv ' if f.endswith('.sv') else ''}{SAMPLE / 'rtl' / f}" for f in RTL_TOPS[top])
    res = _yosys(["-p", f"{reads}; synth -top {top}; stat"], cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    cells = [int(n) for n in re.findall(r"Number of cells:\s+(\d+)", res.stdout)]
    assert cells and cells[-1] > 0


def test_every_rtl_file_is_covered():
    used = {f for files in RTL_TOPS.values() for f in files}
    shipped = {p.name for p in (SAMPLE / "rtl").iterdir()}
    assert shipped == used


@needs_yosys
@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_flow_runs_into_out_dir_only(flow, sample_copy, tmp_path):
    out = tmp_path / "out"
    before = sorted(p.relative_to(sample_copy) for p in sample_copy.rglob("*"))
    env = {**os.environ, "PICO_OUT_DIR": str(out)}
    res = _yosys(["-c", str(sample_copy / "flows" / flow)], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    for rel in FLOWS[flow]:
        assert (out / rel).is_file() and (out / rel).stat().st_size > 0, rel
    assert sorted(p.relative_to(sample_copy) for p in sample_copy.rglob("*")) == before


@needs_yosys
def test_lint_all_fails_on_a_broken_block(sample_copy, tmp_path):
    rtl = sample_copy / "rtl" / "timer.v"
    rtl.write_text(rtl.read_text().replace("endmodule", "timer_missing u_missing ();\nendmodule"))
    env = {**os.environ, "PICO_OUT_DIR": str(tmp_path / "out")}
    res = _yosys(["-c", str(sample_copy / "flows" / "lint_all.tcl")], cwd=tmp_path, env=env)
    assert res.returncode != 0
    report = (tmp_path / "out" / "lint" / "lint.rpt").read_text()
    assert re.search(r"^timer\s+(?!ok)", report, re.M) and re.search(r"^uart\s+ok", report, re.M)


def test_tcl_files_are_complete_tcl():
    tclsh = shutil.which("tclsh")
    if tclsh is None:
        pytest.skip("tclsh not installed")
    for path in sorted((SAMPLE / "flows").glob("*.tcl")):
        script = f"set fh [open {{{path}}}]; puts [info complete [read $fh]]"
        res = subprocess.run([tclsh], input=script, capture_output=True, text=True, timeout=30)
        assert res.stdout.strip() == "1", path.name


def test_openroad_reference_lists_the_commands_the_place_script_uses():
    doc = (SAMPLE / "docs" / "openroad_commands.md").read_text()
    documented = set(re.findall(r"```tcl\n(\w+)", doc))
    assert {"global_placement", "place_pins", "detailed_placement", "set_wire_rc",
            "estimate_parasitics", "report_checks"} <= documented
    assert doc.count("#### Options") == len(documented)
    script = (SAMPLE / "flows" / "openroad_place.tcl").read_text()
    procs = set(re.findall(r"^proc (\w+)", script, re.M))
    tcl_builtins = {"set", "file", "proc", "expr", "if", "foreach", "puts"}
    used = {m for m in re.findall(r"^\s*([a-z_]+)\b", script, re.M)}
    assert used - procs - tcl_builtins <= documented, used - procs - tcl_builtins - documented


# ---------------------------------------------------------------- bugs and ACL
def test_bugs_jsonl_records():
    bugs = _jsonl("bugs/bugs.jsonl")
    assert 20 <= len(bugs) <= 30
    assert len({b["id"] for b in bugs}) == len(bugs)
    for b in bugs:
        missing = [f for f in BUG_FIELDS if f not in b]
        assert not missing, (b.get("id"), missing)
        assert b["status"] in STATUSES and b["component"] in COMPONENTS, b["id"]
        assert b["created"] <= b["updated"], b["id"]
        assert all({"author", "date", "text"} <= set(c) for c in b["comments"]), b["id"]
    assert sum(b["status"] in ("resolved", "closed") for b in bugs) >= 16
    assert sum(len(b["comments"]) >= 15 for b in bugs) >= 2
    # ownership: each component has a main owner and at least one bug with someone else
    for comp in COMPONENTS:
        owners = [b["assignee"] for b in bugs if b["component"] == comp]
        assert len(set(owners)) >= 2 or len(owners) >= 2, comp


def test_bugs_csv_and_github_exports():
    with open(SAMPLE / "bugs" / "bugs.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and set(BUG_FIELDS) <= set(rows[0])
    for row in rows:
        assert isinstance(json.loads(row["comments"]), list)
    issues = json.loads((SAMPLE / "bugs" / "github_issues.json").read_text())
    assert len(issues) == 4
    for issue in issues:
        assert {"number", "title", "body", "state", "labels", "assignee", "user", "created_at", "updated_at"} <= set(issue)
        assert any(lb["name"].startswith("component:") for lb in issue["labels"])
    ids = {b["id"] for b in _jsonl("bugs/bugs.jsonl")} | {r["id"] for r in rows}
    assert len(ids) == 30


def test_acl_manifest_restricts_only_the_errata():
    manifest = yaml.safe_load((SAMPLE / "chipassist-acl.yaml").read_text())
    assert manifest["rules"] == [{"glob": "docs/restricted/**", "groups": ["silicon-team"]}]
    assert [p.name for p in (SAMPLE / "docs" / "restricted").iterdir()] == ["dma_errata.md"]


def test_testplan_is_valid_hjson():
    import hjson  # a core dependency (pyproject.toml)

    plan = hjson.loads((SAMPLE / "dv" / "uart_testplan.hjson").read_text())
    assert plan["name"] == "uart" and len(plan["testpoints"]) >= 5
    assert all({"name", "desc", "stage", "tests"} <= set(tp) for tp in plan["testpoints"])


def test_planted_fake_secret_is_present_once():
    token = re.compile(r"ghp_[A-Za-z0-9]{36}")
    hits = {p.relative_to(SAMPLE).as_posix(): token.findall(p.read_text(errors="ignore"))
            for p in SAMPLE.rglob("*") if p.is_file()}
    assert {k: v for k, v in hits.items() if v} == {"flows/lint_all.tcl": ["ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE1234"]}


# ---------------------------------------------------------------- eval sets
def _source_text(source: str) -> str:
    """Text a gold source stands for: a file, or one bug of an export ("bugs/bugs.jsonl#PICO-110")."""
    path, _, bug_id = source.partition("#")
    if not bug_id:
        return (SAMPLE / path).read_text(encoding="utf-8")
    bug = next((b for b in _jsonl(path) if b["id"] == bug_id), None)
    assert bug is not None, source
    return " ".join([bug["title"], bug["description"], *(c["text"] for c in bug["comments"])])


def test_retrieval_queries_gold_text_is_in_its_source():
    queries = _jsonl("eval/queries.jsonl")
    assert len(queries) >= 25 and len({q["id"] for q in queries}) == len(queries)
    for q in queries:
        assert q["query"].strip() and q["gold"], q["id"]
        for gold in q["gold"]:
            assert normalize(gold["contains"]) in normalize(_source_text(gold["source"])), (q["id"], gold)


@pytest.mark.parametrize("name,per_category", [("eval/autoeval_mc.jsonl", 12), ("eval/autoeval_general.jsonl", 12)])
def test_autoeval_multiple_choice(name, per_category):
    items = _jsonl(name)
    categories: dict[str, int] = {}
    for item in items:
        assert len(item["choices"]) == 4 and len(set(item["choices"])) == 4, item["question"]
        assert item["answer"] in range(4), item["question"]
        categories[item["category"]] = categories.get(item["category"], 0) + 1
    assert all(n == per_category for n in categories.values()), categories
    expected = {"design", "scripting", "bugs"} if "mc" in name else {"general"}
    assert set(categories) == expected
    assert len({item["answer"] for item in items}) == 4  # answers are not all in one position


def run_tcl_task(task: dict, workdir: Path) -> tuple[bool, list[str], str]:
    """Run a task's reference script the way the Tcl benchmark does; returns (ok, failed checks, log)."""
    out = workdir / "out"
    out.mkdir(parents=True)
    for rel in task["design"]:
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / rel, workdir / rel)
    script = workdir / "task.tcl"
    script.write_text(task["reference"].replace("<out>", str(out)))
    res = _yosys(["-c", str(script)], cwd=workdir)
    log = res.stdout + res.stderr
    failed = [] if res.returncode == 0 else [f"yosys exit {res.returncode}"]
    for check in task["checks"]:
        path = Path(check.get("path", "").replace("<out>", str(out)))
        if check["type"] == "file_exists":
            ok = path.is_file()
        elif check["type"] == "file_contains":
            ok = path.is_file() and check["text"] in path.read_text(errors="ignore")
        elif check["type"] == "log_contains":
            ok = check["text"] in log
        else:
            raise ValueError(f"unknown check type {check['type']!r} in {task['id']}")
        if not ok:
            failed.append(json.dumps(check))
    return not failed, failed, log


def test_tcl_tasks_are_well_formed():
    tasks = _jsonl("eval/tcl_tasks.jsonl")
    assert len(tasks) >= 10 and len({t["id"] for t in tasks}) == len(tasks)
    for t in tasks:
        assert t["task"] and t["checks"] and t["reference"], t["id"]
        assert all((SAMPLE / d).is_file() for d in t["design"]), t["id"]


@needs_yosys
@pytest.mark.parametrize("task", _jsonl("eval/tcl_tasks.jsonl"), ids=lambda t: t["id"])
def test_tcl_task_reference_passes_its_checks(task, tmp_path):
    ok, failed, log = run_tcl_task(task, tmp_path)
    assert ok, f"{task['id']}: {failed}\n{log[-2000:]}"


@needs_yosys
def test_tcl_task_checks_catch_a_wrong_script(tmp_path):
    task = _jsonl("eval/tcl_tasks.jsonl")[0]
    broken = {**task, "reference": task["reference"].replace("write_verilog", "write_blif")}
    ok, failed, _ = run_tcl_task(broken, tmp_path)
    assert not ok and any("file_exists" in f for f in failed)


def test_sample_is_small():
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 600_000, total
