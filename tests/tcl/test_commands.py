"""Command databases: yosys's from the installed binary, OpenROAD's from its documentation."""
import pytest

from assistant.tcl.commands import CommandDB, get_db
from assistant.tcl.openroad_db import SHIPPED, build_from_folder, load_openroad_db, parse_markdown, parse_signature
from assistant.tcl.yosys_db import is_wrapper, load_yosys_db, parse_help_all

HELP = """
-- Running command `help -all' --

tee  --  redirect command output to file
========================================

    tee [-q] [-o logfile|-a logfile] cmd

    -q
        Do not print output.

    -o logfile
        Write output to this file.

synth  --  generic synthesis script
===================================

    synth [options]

    -top <module>
        use the specified module as top module

    -flatten
        flatten the design before synthesis.

write_blif  --  write design to BLIF file
=========================================

    write_blif [options] [filename]

Write the current design to an BLIF file.

    -true <cell-type> <out-port>
    -false <cell-type> <out-port>
        use the specified cell types to drive nets that are constant 1 or 0.
        when '-' is used as <cell-type>, no cell is generated.

    -gates
        print .gate instead of .subckt lines for all cells that are not
        instantiations of other modules from this design.
"""

DOC = """### Initialize Floorplan

```tcl
initialize_floorplan
  (-die_area {llx lly urx ury} -core_area {llx lly urx ury}) | (-utilization util [-aspect_ratio ratio])
  -site site_name
  [-row_parity NONE|EVEN|ODD]
```

#### Options

| Switch Name | Description |
| ----- | ----- |
| `-site` | Site name. |
| `[-gap]` | Space between power domains. |

<!-- checker: skip -->
```tcl
initialize_floorplan -bogus_example 1
```
"""


def test_parse_yosys_help_text():
    db = parse_help_all(HELP, "test")
    synth, tee = db.get("synth"), db.get("tee")
    assert synth.option("-top").takes_value and not synth.option("-flatten").takes_value
    assert tee.option("-a").takes_value and not tee.option("-q").takes_value
    assert is_wrapper(tee) and not is_wrapper(synth)
    # whole descriptions, shared by a group of options, and the command's prose: what option hints match on
    blif = db.get("write_blif")
    assert blif.option("-gates").description == ("print .gate instead of .subckt lines for all cells that are not "
                                                 "instantiations of other modules from this design.")
    assert blif.option("-true").description == blif.option("-false").description
    assert blif.option("-false").description.endswith("no cell is generated.")
    assert blif.help == "Write the current design to an BLIF file." and synth.help == ""


def test_yosys_db_from_the_installed_tool_is_cached_by_version(yosys, tmp_path):
    db = load_yosys_db(tmp_path)
    assert len(db.commands) > 100 and db.version
    assert db.get("synth").option("-top").takes_value
    assert db.get("read_verilog").option("-sv") is not None
    assert "synth" in db.suggest_command("synht")
    # options found outside the option list, each confirmed by running yosys: usage lines, pass-through, prose
    assert db.get("design").option("-load").takes_value and db.get("rename").option("-top") is not None
    assert db.get("opt").option("-nodffe") and db.get("opt").option("-fast") and db.get("share").option("-aggressive")
    assert db.get("synth").option("-fast") is None  # listed in synth's script (for opt), not a synth option
    cached = list((tmp_path / "tcl").glob("yosys-*.json"))
    assert len(cached) == 1 and db.version in cached[0].name
    assert CommandDB.load(cached[0]).commands.keys() == db.commands.keys()


def test_openroad_signature_required_optional_and_choice():
    spec = parse_signature("global_route\n  -layers layers\n  [-verbose]\n  (-a x | -b)\n  [-grid {x y}]")
    assert spec.option("-layers").required and spec.option("-layers").takes_value
    assert not spec.option("-verbose").required and not spec.option("-verbose").takes_value
    assert not spec.option("-a").required and spec.option("-a").takes_value  # one of a choice
    assert spec.option("-grid").takes_value
    assert parse_signature("set x $y") is None and parse_signature("foo [-a") is None


def test_openroad_markdown_blocks_tables_and_examples():
    (spec,) = parse_markdown(DOC, "ifp/README.md")
    assert spec.summary == "Initialize Floorplan" and spec.source == "ifp/README.md"
    assert spec.option("-site").required and not spec.option("-die_area").required
    assert spec.option("-gap") is None and spec.doc_only_options == ["-gap"]  # in the options table only
    assert spec.option("-bogus_example") is None  # an example call (literal value), not a signature


def test_shipped_openroad_db_loads_without_shared():
    assert SHIPPED.is_file()
    db = get_db("openroad")
    assert db is get_db("openroad") and "BSD-3-Clause" in db.source  # loaded once, then cached
    assert db.get("initialize_floorplan").option("-site").required
    assert db.get("global_route").option("-guide_file").takes_value
    assert db.get("report_checks") is not None and not db.get("report_checks").check_options


def test_unknown_tool_is_refused():
    with pytest.raises(ValueError, match="unknown tool 'vivado'"):
        get_db("vivado")


@pytest.mark.shared
def test_shipped_db_matches_the_openroad_docs(shared_corpora):
    fresh = build_from_folder(shared_corpora / "openroad" / "src")
    assert fresh.commands.keys() == load_openroad_db().commands.keys()
