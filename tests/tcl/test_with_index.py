"""With a real index: example scripts are retrieved for generation, and OpenROAD-format docs in the
index extend the OpenROAD command database. The index is built from a tiny corpus written here.

Skipped (with the reason) while the ingestion/retriever modules are not importable.
"""
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.service import Assistant
from assistant.tcl.commands import get_db
from assistant.tcl.openroad_db import build_from_index

FLOW = """# Synthesize the counter and report its cells.
yosys read_verilog rtl/counter.v
yosys synth -top counter
yosys tee -o counter_stat.txt stat
yosys write_verilog -noattr counter_syn.v
"""
DOC = """# Pico SoC place and route commands

### Place the pads

```tcl
pico_place_pads
    -ring ring_name
    [-spacing microns]
```

#### Options

| Switch Name | Description |
| ----- | ----- |
| `-ring` | The pad ring. |
| `[-spacing]` | Space between pads. |
"""


@pytest.fixture(scope="module")
def mini_index(tmp_path_factory) -> Path:
    from retriever.index import build_index

    root = tmp_path_factory.mktemp("tcl_corpus")
    (root / "flows").mkdir()
    (root / "docs").mkdir()
    (root / "flows" / "synth_counter.tcl").write_text(FLOW)
    (root / "docs" / "pad_commands.md").write_text(DOC)
    out = tmp_path_factory.mktemp("tcl_index") / "index"
    build_index([root], out, progress=False)
    return out


def test_none_backend_returns_example_scripts_from_the_index(mini_index, tmp_path, yosys):
    bot = Assistant(load_settings(index_dir=mini_index, data_dir=tmp_path / "data"))
    bot.llm = None
    gen = bot.tcl_generate("synthesize the counter and report the cell count", tool="yosys")
    assert gen.retrieval_only and gen.script is None and "retrieval unavailable" not in gen.message
    flows = [s for s in gen.sources if s.path.endswith("synth_counter.tcl")]
    assert flows and "yosys synth -top counter" in flows[0].snippet


def test_openroad_db_learns_commands_from_indexed_docs(mini_index):
    from retriever.index import Index

    spec = build_from_index(Index.open(mini_index)).get("pico_place_pads")
    assert spec is not None and spec.option("-ring").required and not spec.option("-spacing").required
    merged = get_db("openroad", index_dir=mini_index)
    assert merged.get("pico_place_pads") is not None and merged.get("global_route") is not None


def test_commands_from_the_index_respect_acls(tmp_path):
    """`tcl commands --index` listed a restricted command's options to anyone."""
    import json

    from typer.testing import CliRunner

    from assistant.cli import app
    from retriever.index import build_index

    root = tmp_path / "corpus"
    (root / "docs" / "secret").mkdir(parents=True)
    (root / "docs" / "pad_commands.md").write_text(DOC)
    (root / "docs" / "secret" / "orion.md").write_text(DOC.replace("pico_place_pads", "orion_fuse_keys")
                                                       .replace("-ring", "-key_bank"))
    (root / "chipassist-acl.yaml").write_text("rules:\n  - glob: ./docs/secret/**\n    groups: [silicon-team]\n")
    build_index([root], tmp_path / "index", progress=False)
    runner = CliRunner()
    base = ["tcl", "commands", "--tool", "openroad", "--index", str(tmp_path / "index"), "--json"]
    listed = runner.invoke(app, base)
    assert listed.exit_code == 0, listed.output
    names = {c["name"] for c in json.loads(listed.stdout)}
    assert "pico_place_pads" in names and "orion_fuse_keys" not in names and "-key_bank" not in listed.stdout
    assert runner.invoke(app, base + ["orion_fuse_keys"]).exit_code == 1
    team = runner.invoke(app, base + ["--groups", "silicon-team", "orion_fuse_keys"])
    assert team.exit_code == 0 and "-key_bank" in team.stdout
    assert get_db("openroad", index_dir=tmp_path / "index").get("orion_fuse_keys") is None


@pytest.mark.parametrize("prompt_tokens, references, in_prompt", [(650, None, False), (4000, None, True),
                                                                  (650, True, True), (4000, False, False)])
def test_retrieved_scripts_go_into_the_prompt_only_for_large_budgets_by_default(
        mini_index, tmp_path, yosys, scripted_llm, prompt_tokens, references, in_prompt):
    """The 1.5B CPU model copied retrieved flows into unrelated tasks; a GPU-served model has room for them.
    Either way the user sees them as sources."""
    llm = scripted_llm(["```tcl\nyosys read_verilog counter.v\nyosys synth -top counter\n```"])
    llm.default_prompt_tokens = prompt_tokens
    bot = Assistant(load_settings(index_dir=mini_index, data_dir=tmp_path / "data"))
    bot.llm = llm
    gen = bot.tcl_generate("synthesize the counter and report the cell count", tool="yosys", rounds=0,
                           references=references)
    assert any(s.path.endswith("synth_counter.tcl") for s in gen.sources)
    assert ("counter_stat.txt" in llm.prompts[0][1]["content"]) == in_prompt
