"""`adapt gen-data`: structure-derived samples on the shipped sample corpus (every kind, report, dedup, AutoEval MC),
teacher mode over real HTTP against a scripted OpenAI-compatible server (malformed replies, duplicates, grounding),
and clear errors for bad input (empty corpus, missing root, unreachable teacher, unserved model, bad recipe values)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapters.autoeval import load_mc
from adapters.config import GenDataSection, RecipeError, TeacherSection, load_recipe
from adapters.gendata import STRUCTURE_KINDS, generate, parse_reply
from tests.support.openai_server import OpenAIServer, ScriptedLLM, free_port

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gendata") / "sft.jsonl"
    return generate([SAMPLE], GenDataSection(), out), out


def test_structure_mode_makes_every_kind_from_the_sample_corpus(sample_run):
    rep, out = sample_run
    assert rep["source"] == "structure" and rep["documents"] > 20
    assert set(rep["per_kind"]) == set(STRUCTURE_KINDS)
    for kind, k in rep["per_kind"].items():
        assert k["kept"] > 0, kind
        assert k["made"] == k["kept"] + k["dropped"] == k["kept"] + sum(k["reasons"].values())
    assert rep["kept"] == sum(k["kept"] for k in rep["per_kind"].values()) == len(_rows(out))
    assert rep["dropped"] == sum(rep["drop_reasons"].values()) == len(_rows(out.parent / "dropped.jsonl"))
    rows = _rows(out)
    assert all(r["messages"][0]["role"] == "user" and r["messages"][1]["role"] == "assistant" for r in rows)
    text = {r["kind"]: "\n".join(m["content"] for x in rows if x["kind"] == r["kind"] for m in x["messages"])
            for r in rows}
    assert "read_liberty" in text["commands"] and "-corner" in text["commands"]  # usage block + options table
    assert "`-min` option of `read_liberty`" in text["options"]
    assert "CTRL.SOFT_RST" in text["registers"] and "0x0C" in text["registers"]  # bit fields and register maps
    assert "proc report_area" in text["tcl"]  # commented procs of the flow scripts
    assert "PICO-101" in text["bugs"] and "Component: dma" in text["bugs"]
    assert "ERR_CODE" in text["bugs"]  # the CSV, JSONL and GitHub exports are all read
    # eval/ holds the answers of the evaluation sets: never training data
    assert not any(r["source"].startswith("eval/") for r in rows)


def test_structure_mode_writes_an_autoeval_multiple_choice_set(sample_run):
    rep, out = sample_run
    mc = rep["autoeval_mc"]
    assert mc["questions"] > 20 and {"commands", "registers", "bugs"} <= set(mc["per_category"])
    rows = load_mc(Path(mc["path"]))  # the format `adapt autoeval` reads
    assert len(rows) == mc["questions"]
    for r in rows:
        assert 3 <= len(r["choices"]) <= 4 and len(set(r["choices"])) == len(r["choices"])
        assert 0 <= r["answer"] < len(r["choices"]) and r["category"] in ("commands", "registers", "bugs")
    q = next(r for r in rows if "Use this library for minimum-delay (hold) analysis." in r["question"])
    assert q["choices"][q["answer"]] == "-min"


def test_dedup_drops_an_injected_duplicate(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "docs").mkdir(parents=True)
    doc = (SAMPLE / "docs" / "openroad_commands.md").read_text()
    (corpus / "docs" / "openroad_commands.md").write_text(doc)
    # the same command section again in a different document: its samples repeat word for word
    start, end = doc.index("### Read Liberty"), doc.index("### Read Verilog")
    (corpus / "docs" / "liberty_notes.md").write_text("# OpenROAD Command Reference for the Pico Placement Flow\n\n"
                                                      "A copy of one section, kept for reference.\n\n" + doc[start:end])
    base = generate([corpus / "docs" / "openroad_commands.md"], GenDataSection(), tmp_path / "a" / "sft.jsonl")
    rep = generate([corpus], GenDataSection(), tmp_path / "b" / "sft.jsonl")
    dropped = _rows(tmp_path / "b" / "dropped.jsonl")
    dup = [d for d in dropped if d["reason"] == "duplicate"]
    assert dup and all(d["source"] == "docs/openroad_commands.md" for d in dup)  # sorted order: the copy came first
    assert rep["per_kind"]["options"]["reasons"]["duplicate"] == 4  # -corner, -min, -max, filename
    assert rep["kept"] == base["kept"] + 1  # only the copy's own intro paragraph is new


def test_near_duplicates_need_the_same_names():
    from adapters.gendata import Candidate, dedup_filter
    ctx = "read_liberty loads Liberty timing libraries for minimum-delay and maximum-delay analysis of the design"
    c = lambda q: Candidate("qa", q, "It loads Liberty timing libraries for analysis.", "x", ctx)  # noqa: E731
    kept, rep, dropped = dedup_filter([
        c("What does the -min option of read_liberty do for hold analysis in the Pico placement flow?"),
        c("What does the -max option of read_liberty do for hold analysis in the Pico placement flow?"),
        c("What does the -min option of read_liberty do for the hold analysis in the Pico placement flow?"),
        c("what does the -MIN option of read_liberty do, for hold analysis in the Pico placement flow"),
    ], GenDataSection())
    assert [d[1] for d in dropped] == ["near_duplicate", "duplicate"]  # "-max" is a different question
    assert len(kept) == 2 and rep["qa"]["reasons"] == {"duplicate": 1, "near_duplicate": 1}


@pytest.mark.parametrize("reply,n", [
    ('[{"question": "q", "answer": "a"}]', 1),
    ('Sure! Here they are:\n```json\n[{"question": "q", "answer": "a"}, {"question": "r", "answer": "b"}]\n```', 2),
    ('{"samples": [{"question": "q", "answer": "a"}]}', 1),
    ('{"summary": "s", "resolution": "r"}', 1),
    ("I cannot help with that.", None),
    ('[{"question": "q", "answer": "a"', None),
])
def test_parse_reply(reply, n):
    items = parse_reply(reply)
    assert (None if items is None else len(items)) == n


# -- teacher mode over HTTP ----------------------------------------------------------------------------------

SPEC = """# FOO Block Guide

The foo_ctrl register enables the FOO block. Write foo_ctrl.enable = 1, then poll foo_status.ready until it
reads 1 before the first access; the block draws no clock while foo_ctrl.enable is 0.
"""
LEGACY = """# FOO Legacy Notes

MARKER_MALFORMED The old foo_legacy mode keeps the pre-1.0 register layout and must not be used in new designs.
"""
TCL = """# foo_synth.tcl - synthesize the FOO block with yosys.
proc read_foo {rtl_dir} {
    yosys read_verilog [file join $rtl_dir foo.v]
    yosys hierarchy -check -top foo_top
}
read_foo ../rtl
yosys synth -top foo_top
"""
BUGS = [
    {"id": "FOO-1", "title": "FOO ready flag never rises after enable", "status": "resolved", "component": "foo",
     "description": "After writing foo_ctrl.enable = 1 the foo_status.ready bit stays 0 on the FPGA build.",
     "comments": [{"author": "a", "text": "The enable was gated by the wrong reset; fixed in foo.v."}]},
    {"id": "FOO-2", "title": "MARKER_TRUNCATED foo_legacy mode corrupts reads", "status": "open", "component": "foo",
     "description": "In foo_legacy mode every second read of FOO returns stale data."},
]

QA_GOOD = """Here are the samples.
```json
[{"question": "How do I enable the FOO block?",
  "answer": "Write foo_ctrl.enable = 1, then poll foo_status.ready until it reads 1."},
 {"question": "How do I enable the FOO block?", "answer": "Set foo_ctrl.enable and wait for foo_status.ready."},
 {"question": "What colour are bananas?", "answer": "Bananas are yellow fruit, rich in potassium and sugar."},
 {"question": "What does foo_status.ready mean?"}]
```"""
TCL_REPLY = """[{"task": "Read the foo RTL files and elaborate the foo_top design",
  "script": "proc read_foo {rtl_dir} {\\n    yosys read_verilog [file join $rtl_dir foo.v]\\n    yosys hierarchy -check -top foo_top\\n}"},
 {"task": "Read the foo RTL files and then elaborate the foo_top design",
  "script": "yosys read_verilog foo.v\\nyosys hierarchy -check -top foo_top"}]"""
BUG_REPLY = ('{"summary": "FOO ready flag stuck at 0 after enable on the FPGA build",'
             ' "resolution": "Resolved: the enable was gated by the wrong reset, fixed in foo.v."}')


def _script(messages: list[dict]) -> str:
    prompt = messages[-1]["content"]
    if prompt.startswith("Summarize the bug report"):
        return '{"summary": "foo_legacy reads are sta' if "MARKER_TRUNCATED" in prompt else BUG_REPLY
    if "tasks an engineer could automate with a Tcl script" in prompt:
        return TCL_REPLY
    return "Sorry, I cannot help with that." if "MARKER_MALFORMED" in prompt else QA_GOOD


@pytest.fixture
def teacher_corpus(tmp_path):
    root = tmp_path / "foo"
    (root / "docs").mkdir(parents=True)
    (root / "flows").mkdir()
    (root / "bugs").mkdir()
    (root / "docs" / "foo.md").write_text(SPEC)
    (root / "docs" / "legacy.md").write_text(LEGACY)
    (root / "flows" / "foo_synth.tcl").write_text(TCL)
    (root / "bugs" / "bugs.jsonl").write_text("".join(json.dumps(b) + "\n" for b in BUGS))
    return root


def test_teacher_mode_over_http(teacher_corpus, tmp_path):
    llm = ScriptedLLM(_script)
    with OpenAIServer(llm, model_id="teacher-7b") as server:
        cfg = GenDataSection(teacher=TeacherSection(base_url=server.base_url, model="teacher-7b", concurrency=2,
                                                    samples_per_chunk=4))
        rep = generate([teacher_corpus], cfg, tmp_path / "out" / "sft.jsonl")
    assert rep["source"] == "teacher"
    assert rep["requests"] == {"qa": 2, "tcl": 1, "bugs": 2} and rep["failed_requests"] == 0
    assert len(llm.calls) == 5
    k = rep["per_kind"]
    assert k["qa"] == {"made": 5, "kept": 1, "dropped": 4, "reasons": {
        "duplicate": 1, "malformed_item": 1, "malformed_reply": 1, "ungrounded": 1}}
    assert k["tcl"] == {"made": 2, "kept": 1, "dropped": 1, "reasons": {"near_duplicate": 1}}
    assert k["bugs"] == {"made": 2, "kept": 1, "dropped": 1, "reasons": {"malformed_reply": 1}}
    rows = {r["kind"]: r for r in _rows(tmp_path / "out" / "sft.jsonl")}
    assert rows["qa"]["messages"][0]["content"] == "How do I enable the FOO block?"
    assert rows["tcl"]["messages"][0]["content"].startswith("Write a Tcl script for this task: Read the foo RTL")
    assert "proc read_foo" in rows["tcl"]["messages"][1]["content"]
    assert rows["bugs"]["messages"][0]["content"].startswith("Summarize this bug report:")
    assert "FOO-1" in rows["bugs"]["messages"][0]["content"]
    assert rows["bugs"]["messages"][1]["content"].endswith("fixed in foo.v.")
    reasons = {d["reason"] for d in _rows(tmp_path / "out" / "dropped.jsonl")}
    assert reasons == {"duplicate", "malformed_item", "malformed_reply", "ungrounded", "near_duplicate"}


def test_unreachable_teacher_names_the_url(teacher_corpus, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    cfg = GenDataSection(teacher=TeacherSection(base_url=url, model="teacher-7b"))
    with pytest.raises(RecipeError, match=f"cannot reach the teacher at {url}"):
        generate([teacher_corpus], cfg, tmp_path / "sft.jsonl")
    assert not (tmp_path / "sft.jsonl").exists()


def test_unserved_teacher_model_is_named(teacher_corpus, tmp_path):
    llm = ScriptedLLM(["[]"])
    with OpenAIServer(llm, model_id="teacher-7b") as server:
        cfg = GenDataSection(teacher=TeacherSection(base_url=server.base_url, model="teacher-70b"))
        with pytest.raises(RecipeError, match="'teacher-70b' is not served .* teacher-7b"):
            generate([teacher_corpus], cfg, tmp_path / "sft.jsonl")
    assert llm.calls == []  # failed before any generation request


# -- bad input -----------------------------------------------------------------------------------------------

def test_empty_corpus_and_missing_root_fail_clearly(tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "blank.md").write_text("  \n")
    with pytest.raises(RecipeError, match="no usable documents under .*empty"):
        generate([empty], GenDataSection(), tmp_path / "o" / "sft.jsonl")
    with pytest.raises(RecipeError, match="nowhere does not exist"):
        generate([tmp_path / "nowhere"], GenDataSection(), tmp_path / "o" / "sft.jsonl")
    with pytest.raises(RecipeError, match="domain_roots is empty"):
        generate([], GenDataSection(), tmp_path / "o" / "sft.jsonl")
    assert not (tmp_path / "o").exists()


def test_corpus_without_structure_fails_clearly(tmp_path):
    root = tmp_path / "rtl"
    root.mkdir()
    shutil.copy(SAMPLE / "rtl" / "timer.v", root / "timer.v")
    with pytest.raises(RecipeError, match="no sample kept from 1 documents"):
        generate([root], GenDataSection(), tmp_path / "o" / "sft.jsonl")


@pytest.mark.parametrize("override,match", [
    ("gendata.teacher={base_url: 'localhost:8000', model: m}", "gendata.teacher.base_url"),
    ("gendata.teacher={base_url: 'http://h/v1', model: m, concurency: 2}", "gendata.teacher.concurency"),
    ("gendata.min_answer_chars=5000", "min_answer_chars must be less than"),
    ("gendata.near_dup_threshold=0.2", "gendata.near_dup_threshold"),
    ("gendata.max_per_kind=0", "gendata.max_per_kind"),
])
def test_bad_gendata_recipe_values_fail_on_load(tmp_path, override, match):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: t\noutput_dir: {tmp_path / 'run'}\nmodel: {{tiny: {{}}}}\n")
    with pytest.raises(RecipeError, match=match):
        load_recipe(recipe, [override])


def test_cli_gen_data_prints_the_report(tmp_path):
    from typer.testing import CliRunner

    from assistant.cli import app
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: t\noutput_dir: {tmp_path / 'run'}\nmodel: {{tiny: {{}}}}\n"
                      f"data: {{domain_roots: [{SAMPLE / 'docs'}]}}\n")
    res = CliRunner().invoke(app, ["adapt", "gen-data", str(recipe)])
    assert res.exit_code == 0, res.output
    assert "gen-data (structure)" in res.output and '"options"' in res.output
    assert (tmp_path / "run" / "gendata" / "sft.jsonl").is_file()
    assert (tmp_path / "run" / "gendata" / "autoeval_mc.jsonl").is_file()
    res = CliRunner().invoke(app, ["adapt", "gen-data", str(recipe), "--set", f"data.domain_roots=[{tmp_path}/none]"])
    assert res.exit_code != 0 and "does not exist" in " ".join(res.output.split())


def test_pipeline_refuses_a_dead_teacher_before_any_stage_runs(tmp_path):
    from adapters.pipeline import Pipeline

    url = f"http://127.0.0.1:{free_port()}/v1"
    recipe = load_recipe("adapters/recipes/tiny-cpu.yaml", [f"output_dir={tmp_path}", f"gendata.teacher.base_url={url}",
                                                            "gendata.teacher.model=teacher-7b"])
    with pytest.raises(RecipeError, match=f"cannot reach the teacher at {url}"):
        Pipeline(recipe, log=lambda m: None).run()
    assert not (tmp_path / "report.json").exists()  # nothing ran


def test_restricted_documents_are_trained_on_only_when_their_group_is_listed():
    from adapters.data import load_domain

    def has_errata(groups):
        return any("not been disclosed to customers" in text for _, text in load_domain([SAMPLE], groups))

    assert not has_errata(("public",))  # default: what every user may see
    assert has_errata(("silicon-team",))
    assert "public" in load_recipe("adapters/recipes/tiny-cpu.yaml").data.acl_groups
