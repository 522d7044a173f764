"""OpenROAD's command database, parsed from its documentation (OpenROAD is not installed here).

OpenROAD's per-tool READMEs give each command as a ```tcl signature block, where `[-opt value]` is
optional, `[-flag]` takes no value, `-opt value` is required and `(a | b)` is a choice, followed by an
"Options" table::

    initialize_floorplan
      -site site_name
      [-aspect_ratio ratio]

The synopsis is what the tool parses, so it decides: an option only the table (or other prose) spells
is kept in ``doc_only_options`` and is not accepted (cts documents `-root_buffer` in its table, but
`clock_tree_synthesis` takes `-root_buf`). A laid-out synopsis (brackets or one option a line) outranks
a one-line call found elsewhere; Tcl comment lines end a signature (`# ...` is never an option's value).
The docs' ``<!-- checker: skip -->`` marker is OpenROAD's README-vs-help consistency check's, not an
"example" marker: it sits on real synopses too (`set_routing_layers`), so those blocks are parsed like
any other and examples are told apart by their literal values.

Sources: a folder of Markdown files, or the chunks of an index (``bot.index.chunks()``) visible to the
caller's groups (public only by default: a restricted command's name and options are restricted text). A prebuilt
database ships as ``assistant/tcl/data/openroad_commands.json``, generated from the OpenROAD READMEs
(github.com/The-OpenROAD-Project/OpenROAD, BSD-3-Clause; see its "license" field) with:

    python -m assistant.tcl.openroad_db ../shared/corpora/openroad/src -o assistant/tcl/data/openroad_commands.json
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from assistant.tcl.commands import TCL_CORE_COMMANDS, CommandDB, CommandSpec, OptionSpec

SHIPPED = Path(__file__).parent / "data" / "openroad_commands.json"
ATTRIBUTION = ("OpenROAD documentation (github.com/The-OpenROAD-Project/OpenROAD), "
               "Copyright (c) 2018-2025, The OpenROAD Authors, BSD-3-Clause")

# A fenced block on its own lines: ```tcl, ``` tcl, an untagged ```, or ````{eval-rst} (closed by as many
# backticks); the language decides how far its text is trusted (see parse_markdown).
_FENCE = re.compile(r"^[ \t]*(?P<ticks>`{3,})[ \t]*(?P<lang>[^\s`]*)[^\n]*\n(?P<body>.*?)^[ \t]*(?P=ticks)[ \t]*$",
                    re.S | re.M)
_COMMAND_NAME = re.compile(r"^[a-z][a-z0-9_]*(::[a-z_]\w*)*$")  # place_inst, gui::select_at; not `Distribution`
_TOKEN = re.compile(r"\{[^{}]*\}|[\[\]()|]|[^\s\[\]()|{}]+")
_NAME = re.compile(r"^[A-Za-z_][\w:]*$")
_TABLE_OPTION = re.compile(r"^\|\s*`\[?(-[A-Za-z][\w-]*)[^`]*`")
_NUMBERS = re.compile(r"^(-?[\d.]+|\{[\s\d.-]*\d[\s\d.-]*\})$")  # 70, {0 0 200 100}: example values
_SECTION_END = re.compile(r"\n#{1,3}\s")  # a command's option tables end at the next ##/### heading
_RST_TCL = re.compile(r"\.\. code-tab:: tcl\n\n((?:[ \t]+\S[^\n]*\n|[ \t]*\n)+)")
# OpenSTA's timing and SDC commands, which OpenROAD scripts use but OpenROAD's READMEs do not document:
# known by name only, so their options are not checked.
STA_COMMANDS = """read_liberty read_sdc write_sdc read_spef read_sdf write_sdf link_design create_clock
create_generated_clock set_input_delay set_output_delay set_load set_driving_cell set_false_path
set_multicycle_path set_max_delay set_min_delay set_clock_uncertainty set_clock_latency set_propagated_clock
set_clock_groups set_wire_load_model set_max_fanout set_max_transition set_max_capacitance set_input_transition
set_timing_derate set_operating_conditions set_units set_cmd_units define_corners report_checks report_tns
report_wns report_worst_slack report_clock_skew report_power report_design_area report_check_types report_net
report_instance report_units report_clock_properties report_parasitic_annotation report_slews report_fanout
get_ports get_pins get_nets get_cells get_clocks get_lib_cells get_libs all_inputs all_outputs all_clocks
all_registers current_design sta""".split()


def _is_value(tok: str | None) -> bool:
    return tok is not None and tok not in "[]()|" and not re.match(r"^-[A-Za-z]", tok)


def parse_signature(text: str, source: str = "") -> CommandSpec | None:
    """Parse one command signature; None when the text is not one (an example, prose, shell)."""
    text = text.replace("\\\n", "\n")  # line continuations inside a signature
    if any(c in text for c in "$;\\\"") or not text.strip():
        return None
    tokens = _TOKEN.findall(text)
    if any(re.match(r"^-[A-Za-z]", a) and _NUMBERS.match(b) for a, b in zip(tokens, tokens[1:])):
        return None  # "-utilization 70", "-die_area {0 0 200 200}": an example call, not a signature
    name = tokens[0]
    if not _NAME.match(name) or name in TCL_CORE_COMMANDS:
        return None  # `set net [get_nets ...]` is a Tcl statement, not a tool command's signature
    options: dict[str, OptionSpec] = {}
    brackets = parens = 0
    for i, tok in enumerate(tokens[1:], start=1):
        if tok == "[":
            brackets += 1
        elif tok == "]":
            brackets -= 1
        elif tok == "(":
            parens += 1
        elif tok == ")":
            parens -= 1
        elif re.match(r"^-[A-Za-z]", tok):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            takes = _is_value(nxt) or (nxt == "(" and i + 2 < len(tokens) and _is_value(tokens[i + 2]))
            after = tokens[i + 2] if takes and i + 2 < len(tokens) else nxt
            # options in a choice, "( a | b )" or "-a|-b", are not individually required
            choice = tokens[i - 1] == "|" or after == "|"
            options.setdefault(tok, OptionSpec(name=tok, takes_value=takes,
                                               required=brackets == 0 and parens == 0 and not choice))
    if brackets or parens:
        return None  # unbalanced: not a signature we can trust
    return CommandSpec(name=name, usage=text.strip(), options=list(options.values()), source=source)


def _split_block(block: str) -> list[str]:
    """A block may hold several signatures: each starts on an unindented line. A Tcl comment line ends
    the signature before it (else `repair_timing -setup` + `# Explicit ...` reads `#` as -setup's value)."""
    parts: list[list[str]] = []
    current: list[str] | None = None
    for ln in block.splitlines():
        if not ln.strip():
            continue
        if ln.lstrip().startswith("#"):
            current = None
        elif current is None or not ln[0].isspace() and re.match(r"^[A-Za-z_]", ln):
            current = [ln]
            parts.append(current)
        else:
            current.append(ln)
    return ["\n".join(p) for p in parts]


def _untagged_signature(spec: CommandSpec, block: str) -> bool:
    """An untagged ``` block is trusted only where it clearly is a synopsis: a laid-out signature with
    options (`place_inst -name inst_name \\ ...`), or a block holding nothing but one command name
    (`clear_global_connect`). Shell lines, pseudo-code and tables in untagged blocks are not."""
    if not _COMMAND_NAME.match(spec.name):
        return False
    return (_rank(spec) == 2 and bool(spec.options)) or block.strip() == spec.name


def parse_markdown(text: str, source: str = "") -> list[CommandSpec]:
    """Command specs from one Markdown document: signature blocks plus their option tables."""
    specs: list[CommandSpec] = []
    blocks = list(_FENCE.finditer(text))
    for n, m in enumerate(blocks):
        lang, body = m.group("lang").lower(), m.group("body")
        if lang not in ("tcl", ""):
            continue  # shell, C++, Python, JSON, notes
        found = [s for s in (parse_signature(p, source) for p in _split_block(body)) if s]
        if not lang:
            found = [s for s in found if _untagged_signature(s, body)]
        headings = re.findall(r"^#{2,4}\s+(.+)$", text[:m.start()], re.M)
        for spec in found:
            spec.summary = headings[-1].strip() if headings else ""
        if len(found) == 1:  # the following table documents this command's options
            end = blocks[n + 1].start() if n + 1 < len(blocks) else len(text)
            _add_table_options(found[0], text[m.end():end])
        specs.extend(found)
    for m in _RST_TCL.finditer(text):  # reStructuredText tabs in the top-level README
        lines = [ln.strip() for ln in m.group(1).splitlines() if ln.strip()]
        specs.extend(s for s in (parse_signature(ln, source) for ln in lines) if s)
    return specs


def _add_table_options(spec: CommandSpec, after: str) -> None:
    """Options the table documents but the synopsis lacks: recorded as doc-only, not accepted."""
    for ln in _SECTION_END.split(after, maxsplit=1)[0].splitlines():
        mt = _TABLE_OPTION.match(ln.strip())
        if mt and spec.option(mt.group(1)) is None and mt.group(1) not in spec.doc_only_options:
            spec.doc_only_options.append(mt.group(1))


def _rank(spec: CommandSpec) -> int:
    """How far a parsed signature is trusted: a laid-out synopsis (brackets, or options on their own
    lines) over a one-line call such as an example's `place_pins -hor_layers metal3 -ver_layers metal2`."""
    return 2 if "[" in spec.usage or "\n" in spec.usage else 1


def _merge(db: CommandDB, spec: CommandSpec) -> None:
    old = db.commands.get(spec.name)
    if old is None:
        db.commands[spec.name] = spec
        return
    if old.check_options and _rank(spec) > _rank(old):  # the synopsis becomes the base, whatever came first
        db.commands[spec.name] = spec
        old, spec = spec, old
    if not old.check_options or _rank(spec) == _rank(old):
        for opt in spec.options:  # documented twice alike: union of options; required only if in both
            mine = old.option(opt.name)
            if mine is None:
                old.options.append(opt.model_copy(update={"required": False}))
            else:
                mine.takes_value = mine.takes_value or opt.takes_value
        names = {o.name for o in spec.options}
        for opt in old.options:
            if opt.name not in names:
                opt.required = False
    else:  # a lesser source (an example call) never redefines the synopsis: its extra spellings are doc-only
        old.doc_only_options += [o.name for o in spec.options if old.option(o.name) is None]
    known = {o.name for o in old.options}
    old.doc_only_options = sorted(set(old.doc_only_options + spec.doc_only_options) - known)


def build_from_documents(docs: Iterable[tuple[str, str]]) -> CommandDB:
    """Build from (source, markdown text) pairs."""
    db = CommandDB(tool="openroad", source=ATTRIBUTION)
    for name in STA_COMMANDS:
        db.commands[name] = CommandSpec(name=name, source="OpenSTA (name only)", check_options=False)
    for source, text in docs:
        for spec in parse_markdown(text, source):
            _merge(db, spec)
    return db


def build_from_folder(folder: Path) -> CommandDB:
    """Build from every Markdown file under ``folder`` (e.g. OpenROAD's src/)."""
    files = sorted(Path(folder).rglob("*.md"))
    return build_from_documents((str(f.relative_to(folder)), f.read_text(encoding="utf-8", errors="replace"))
                                for f in files)


def build_from_index(index, user_groups: Iterable[str] | str | None = None) -> CommandDB:
    """Build from the index's chunks visible to ``user_groups`` (None: public only) that hold OpenROAD-format
    docs (``corpora.types.visible``, the rule search applies)."""
    from corpora.types import visible

    return build_from_documents((c.source, c.text) for c in index.chunks()
                                if "```tcl" in c.text and visible(c.acl, user_groups))


def load_openroad_db(index_dir: Path | None = None, user_groups: Iterable[str] | str | None = None) -> CommandDB:
    """The prebuilt database shipped with ChipAssist, plus the OpenROAD-format docs of an index if given
    (only the chunks visible to ``user_groups``; None: public only)."""
    groups = frozenset([user_groups] if isinstance(user_groups, str) else user_groups or ())
    return _load_openroad_db(index_dir, groups)


@lru_cache(maxsize=4)
def _load_openroad_db(index_dir: Path | None, user_groups: frozenset[str]) -> CommandDB:
    db = CommandDB.load(SHIPPED)
    if index_dir is not None:
        from retriever.index import Index

        for spec in build_from_index(Index.open(index_dir), user_groups).commands.values():
            if spec.check_options or spec.name not in db.commands:
                _merge(db, spec)
    return db


def main() -> None:
    """`python -m assistant.tcl.openroad_db FOLDER`: learn OpenROAD's commands from its docs (a database)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="OpenROAD src/ folder (or any folder of its Markdown docs)")
    ap.add_argument("-o", "--out", type=Path, default=SHIPPED)
    args = ap.parse_args()
    db = build_from_folder(args.folder)
    db.save(args.out)
    print(f"{len(db.commands)} commands, {sum(len(c.options) for c in db.commands.values())} options -> {args.out}")


if __name__ == "__main__":
    main()
