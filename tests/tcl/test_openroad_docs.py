"""OpenROAD's command database against the README formats it once misread (issue 14).

Each excerpt below is copied from the OpenROAD READMEs (BSD-3-Clause) in the form that was misread:
a synopsis under OpenROAD's own `<!-- checker: skip -->` marker, a Tcl comment after an example call,
an options table that disagrees with its synopsis, untagged ``` synopses, a table followed by another
section. The shipped database is checked too, through the linter, since that is where a wrong entry
turns a correct script into a failed check.
"""
from assistant.tcl.commands import get_db
from assistant.tcl.lint import lint_script
from assistant.tcl.openroad_db import build_from_documents, parse_markdown

GRT_ROUTING_LAYERS = """### Set Routing Layers

This command sets the minimum and maximum routing layers for signal and clock nets.
Example: `set_routing_layers -signal Metal2-Metal10 -clock Metal6-Metal9`

<!-- checker: skip -->
```tcl
set_routing_layers
    [-signal min-max]
    [-clock min-max]
```

#### Options

| Switch Name | Description |
| ----- | ----- |
| `-signal` | Set the min and max routing signal layer (names) in this format "%s-%s". |
| `-clock` | Set the min and max routing clock layer (names) in this format "%s-%s". |
"""

RSZ_REPAIR_TIMING = """### Repair Timing

```tcl
repair_timing
    [-setup]
    [-hold]
    [-setup_margin setup_margin]
    [-verbose]
```
"""

RSZ_ARCHITECTURE = """## Phase UI

```tcl
# Default setup repair pipeline.
repair_timing -setup

# Explicit default pipeline.
repair_timing -setup -phases "LEGACY LAST_GASP CRIT_VT_SWAP"
```
"""

CTS_SYNOPSIS_VS_TABLE = """### Clock Tree Synthesis

```tcl
clock_tree_synthesis
    [-buf_list <list_of_buffers>]
    [-root_buf root_buf]
    [-sink_clustering_enable]
```

#### Options

| Switch Name | Description |
| ----- | ----- |
| `-buf_list` | Tcl list of master cells (buffers) that will be considered when making the wire segments. |
| `-root_buffer` | The master cell of the buffer that serves as root for the clock tree. |
| `-sink_clustering_enable` | Enables pre-clustering of sinks to create one level of sub-tree. |
"""

TOP_README_UNTAGGED = """### Global Connections

```
global_connect [-force] [-verbose]
```

```
clear_global_connect
```

```tcl
read_3dblox_bmap filename
```

##### Options

| Switch Name | Description |
| ----- | ----- |
| `filename` | Path to the bump map. |

## TCL functions

The `place_inst` command is used to place an instance.

```
place_inst -name inst_name \\
           (-origin xy_origin | -location xy_location) \\
           [-orientation orientation] \\
           [-cell library_cell] \\
           [-status status]
```

##### Options

| Switch Name | Description |
| ----- | ----- |
| `-name` | The name of the instance |
| `-orientaton` | The orientation of the instance. Default is R0 |

```
Distribution of Relative Delay Errors (vs. OpenSTA Iterative 2-Pole)
  [-0.5, 0.5) | ####
```

```shell
./test/regression -force
```
"""

PPL_EXAMPLE_AFTER_SYNOPSIS = """### Place pins

```tcl
place_pins
    -hor_layers h_layers
    -ver_layers v_layers
    [-corner_avoidance length]
```

<!-- checker: skip -->
```tcl
place_pins -hor_layers metal3 -ver_layers metal2
```

```tcl
set net [get_nets u_mid1/u_leaf1/n1]
```
"""


def _db(*docs: tuple[str, str]):
    return build_from_documents(list(docs))


def _problems(script: str, db) -> list[tuple[str, str | None, str]]:
    return [(i.problem, i.option, i.suggestion or "") for i in lint_script(script, db)]


def test_synopsis_under_the_checker_skip_marker_is_a_command():
    """`<!-- checker: skip -->` is OpenROAD's README-vs-help checker marker, not an examples marker."""
    (spec,) = parse_markdown(GRT_ROUTING_LAYERS, "grt/README.md")
    assert spec.name == "set_routing_layers" and spec.summary == "Set Routing Layers"
    assert spec.option("-signal").takes_value and spec.option("-clock").takes_value


def test_shipped_db_knows_set_routing_layers_and_the_ppl_constraint_commands():
    db = get_db("openroad")
    for name in ("set_routing_layers", "set_io_pin_constraint", "define_pin_shape_pattern", "exclude_io_pin_region",
                 "clear_io_pin_constraints", "global_connect", "add_global_connection", "place_inst"):
        assert db.get(name) is not None, name
    script = ("set_routing_layers -signal metal2-metal10 -clock metal6-metal9\n"
              "set_io_pin_constraint -direction input -region top:*\n"
              "global_connect\n")
    assert _problems(script, db) == []


def test_a_comment_line_is_never_an_options_value():
    """The example `repair_timing -setup` followed by `# Explicit ...` once made -setup take a value."""
    db = _db(("rsz/README.md", RSZ_REPAIR_TIMING), ("rsz/doc/architecture.md", RSZ_ARCHITECTURE))
    spec = db.get("repair_timing")
    assert not spec.option("-setup").takes_value and spec.option("-setup_margin").takes_value
    (example,) = parse_markdown(RSZ_ARCHITECTURE, "rsz/doc/architecture.md")  # the quoted call is no signature
    assert example.usage == "repair_timing -setup" and not example.option("-setup").takes_value


def test_shipped_db_repair_timing_flags_and_values():
    db = get_db("openroad")
    assert _problems("repair_timing -setup\nrepair_timing -setup -hold -setup_margin 0.05 -verbose\n", db) == []
    assert _problems("repair_timing -setup_margin\n", db) == [("missing_value", "-setup_margin",
                                                                "-setup_margin needs a value")]
    assert _problems("save_image -web out.png\n", db) == []  # `[-web]` is a flag too


def test_options_table_spelling_the_synopsis_lacks_is_recorded_not_accepted():
    (spec,) = parse_markdown(CTS_SYNOPSIS_VS_TABLE, "cts/README.md")
    assert spec.option("-root_buf").takes_value and spec.option("-root_buffer") is None
    assert spec.doc_only_options == ["-root_buffer"]


def test_shipped_db_flags_the_table_only_cts_spelling():
    db = get_db("openroad")
    assert "-root_buffer" in db.get("clock_tree_synthesis").doc_only_options
    assert _problems("clock_tree_synthesis -root_buf BUF_X4 -buf_list {BUF_X4 BUF_X8}\n", db) == []
    ((problem, option, suggestion),) = _problems("clock_tree_synthesis -root_buffer BUF_X4\n", db)
    assert (problem, option) == ("unknown_option", "-root_buffer") and "-root_buf" in suggestion.split(", ")


def test_untagged_blocks_give_synopses_only_and_tables_end_at_the_next_section():
    specs = {s.name: s for s in parse_markdown(TOP_README_UNTAGGED, "README.md")}
    assert set(specs) == {"global_connect", "clear_global_connect", "read_3dblox_bmap", "place_inst"}
    assert not specs["global_connect"].option("-force").takes_value
    place = specs["place_inst"]
    assert place.option("-name").required and not place.option("-origin").required  # one of a choice
    assert place.doc_only_options == ["-orientaton"]  # the table's typo is not accepted
    # place_inst's table (after "## TCL functions") is not read_3dblox_bmap's
    assert specs["read_3dblox_bmap"].options == [] and specs["read_3dblox_bmap"].doc_only_options == []


def test_an_example_call_never_redefines_the_synopsis_and_tcl_statements_are_no_commands():
    db = _db(("ppl/README.md", PPL_EXAMPLE_AFTER_SYNOPSIS))
    spec = db.get("place_pins")
    assert spec.option("-hor_layers").required and spec.option("-ver_layers").required
    assert spec.option("-corner_avoidance") is not None and db.get("set") is None
    # the other order: the laid-out synopsis still wins over a one-line call seen first
    call_first = _db(("a.md", "```tcl\nplace_pins -hor_layers metal3 -ver_layers metal2 -annealing\n```\n"),
                     ("ppl/README.md", PPL_EXAMPLE_AFTER_SYNOPSIS))
    spec = call_first.get("place_pins")
    assert spec.usage.startswith("place_pins\n") and spec.option("-corner_avoidance").takes_value
    assert spec.option("-annealing") is None and spec.doc_only_options == ["-annealing"]
