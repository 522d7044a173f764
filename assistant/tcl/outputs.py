"""What the files a task names should hold: their kind, the yosys line that writes it, and a check of the file.

A task names its files with the words that say what goes in them: "save the stat report to out/x_stat.txt",
"the nextpnr-ready JSON to out/x.json", "capture its output in out/hierarchy.txt". A script can run clean,
write every one of those files and still not do the task, because it wrote the wrong thing into one: a netlist
into the statistics file, `stat -json` where a JSON netlist was asked for, a KISS2 export into the `fsm_info`
file. The checker cannot see that from the tool's errors, so the repair loop was never asked (bench/README.md:
most failures of the 1.5B model "pass every check"). This module gives the loop eyes for it:

    kinds = expected_kinds(task, ["out/x_stat.txt", "out/x.json"])   # {"out/x_stat.txt": "stat", "out/x.json": "json"}
    script, fixes = writer_fixits(script, kinds)    # `write_verilog out/x_stat.txt` -> `tee -o out/x_stat.txt stat`
    wrong_outputs(artifacts_dir, kinds)             # ["out/x.json holds a yosys stat report, not ..."]

The kind of a file comes from its suffix (`.blif`, `.kiss2`, `.vcd`, ...) and, for reports and JSON, from its
name and the words of the task just before it. A written file is judged wrong only when it positively shows
another kind (yosys's own banners and format headers) and lacks the expected one: a file the script wrote by
hand in Tcl, or anything unrecognised, is never flagged. The whole fix-it pipeline keeps every reference script
of the shipped task sets passing (tests/tcl/test_heldout_tasks.py).
"""
from __future__ import annotations

import re
from pathlib import Path

# The kind of a file of each suffix; reports (.txt, .rpt, .log) and JSON are decided by their words.
_SUFFIX_KIND = {"v": "verilog", "blif": "blif", "edif": "edif", "edf": "edif", "edn": "edif", "il": "rtlil",
                "rtlil": "rtlil", "btor": "btor", "smt2": "smt2", "aig": "aiger", "aag": "aiger", "kiss2": "kiss2",
                "vcd": "vcd", "dot": "dot", "sp": "spice", "spice": "spice", "json": "json"}
_REPORT_SUFFIXES = {"txt", "rpt", "log"}
# Reports named after the pass that prints them (out/fsm_info.txt, out/hierarchy.txt): their pass's banner.
_REPORT_PASSES = ("fsm_info", "hierarchy", "check", "ltp", "equiv_status")
# The task's words for a statistics report ("the cell statistics", "save the stat", "cell counts", "area").
_STAT_WORDS = re.compile(r"\bstat(?:s|istics?)?\b|\bcell[- ]?(?:counts?|usage)\b|\bcell (?:report|summary)\b|"
                         r"\barea (?:report|numbers|estimate)|\butili[sz]ation\b|\btransistor", re.I)
# The task's words for a JSON netlist ("the nextpnr-ready JSON", "the JSON netlist", "Yosys JSON").
_NETLIST_WORDS = re.compile(r"\bnetlist\b|\bnextpnr\b|\byosys json\b|\bwrite_json\b", re.I)
# Where the words naming a file begin: the clause before it ("..., write the nextpnr-ready JSON to out/x.json").
_CLAUSE = re.compile(r"[;,:(]|\.\s|\band\b|\bthen\b", re.I)

# What a file holds, from its text: (kind, signature), the first found wins where several match.
_SIGNATURES = [
    ("stat", re.compile(r'"invocation":\s*"stat\b|Printing statistics\.|Number of cells:')),
    ("json", re.compile(r'\A\s*\{\s*"creator":\s*"[^"]*",\s*"modules"\s*:')),  # stat -json has "invocation" between
    ("blif", re.compile(r"(?m)^\.model\s")),
    ("edif", re.compile(r"\A\s*\(edif\s")),
    ("rtlil", re.compile(r"(?m)^autoidx \d+$|^module \\\S+$")),
    ("verilog", re.compile(r"(?m)^\s*module\s+[\w$]+\s*[(;#]")),
    ("smt2", re.compile(r"SMT-LIBv2|^\(declare-(?:fun|sort|datatype)", re.M)),
    ("btor", re.compile(r"(?m)^\d+ sort (?:bitvec|array)\b")),
    ("aiger", re.compile(r"\Aa[ai]g \d")),
    ("kiss2", re.compile(r"(?m)^\.i \d+\s*$[\s\S]*^\.s \d+")),
    ("vcd", re.compile(r"\$enddefinitions|\$timescale")),
    ("dot", re.compile(r"\A\s*(?:strict\s+)?(?:di)?graph\b")),
    ("spice", re.compile(r"(?mi)^\.subckt\s")),
    *[(p, re.compile(rf"Executing {p.upper()} pass")) for p in _REPORT_PASSES],
]
_SIGNATURE = dict(_SIGNATURES)
_NAMES = {"stat": "a yosys stat report", "json": "a yosys JSON netlist (write_json)", "verilog": "a Verilog netlist",
          "rtlil": "an RTLIL dump", "blif": "a BLIF netlist", "edif": "an EDIF netlist", "smt2": "an SMT-LIBv2 model",
          "btor": "a BTOR model", "aiger": "an AIGER file", "kiss2": "a KISS2 FSM export", "vcd": "a VCD waveform",
          "dot": "a Graphviz graph", "spice": "a SPICE netlist",
          **{p: f"the output of `{p}`" for p in _REPORT_PASSES}}
# The one yosys line that writes a file of each kind (FILE: its path), for the kinds that have one.
# (Not BTOR, SMT2 or AIGER: after synthesis those writers need the flops prepared first, so no one line is sure.)
_WRITER_OF = {"stat": "tee -o FILE stat", "json": "write_json FILE", "blif": "write_blif FILE",
              "edif": "write_edif FILE", "rtlil": "write_rtlil FILE", "fsm_info": "tee -o FILE fsm_info",
              "check": "tee -o FILE check", "ltp": "tee -o FILE ltp"}
# Kinds whose writer can end any script: the statistics and netlists of the design as it is (a pass's own report,
# such as `fsm_info` after FSM extraction, belongs where the script runs the steps it reports on).
_ADDABLE = {"stat", "json", "blif", "edif", "rtlil"}
# Kinds that are a pass's report rather than a file format: one report in another's file is never judged wrong
# or rewritten (`hierarchy -check` into out/check.txt, `stat -top` into out/hierarchy.txt are reasonable).
_REPORTS = {"stat", *_REPORT_PASSES}
# The suffix of what each yosys writer writes (a target without one, or none, is read by its writer).
WRITER_SUFFIX = {"write_verilog": "v", "write_json": "json", "write_blif": "blif", "write_edif": "edif",
                 "write_btor": "btor", "write_smt2": "smt2", "write_aiger": "aig", "write_rtlil": "il",
                 "write_ilang": "il", "write_spice": "spice", "write_cxxrtl": "cc", "write_firrtl": "fir"}
# The kind of file each writer writes ("v" -> "verilog"; a suffix of no known kind stands for itself).
WRITER_KIND = {w: _SUFFIX_KIND.get(s, s) for w, s in WRITER_SUFFIX.items()}
# What a writing line of a script makes: a writer's kind (when it is one this module knows), or `fsm_export`'s.
_MAKES = {**{w: k for w, k in WRITER_KIND.items() if WRITER_SUFFIX[w] in _SUFFIX_KIND}, "fsm_export": "kiss2"}
_WRITER_LINE = re.compile(r"^(\s*)yosys\s+(write_\w+|fsm_export)\b(.*?)\s(-o\s+)?([^\s\[\]$]+)\s*$")
_TEE_LINE = re.compile(r"^(\s*)yosys\s+tee((?:\s+-q)*)\s+-[oa]\s+([^\s\[\]$]+)\s+(\w+)((?:\s+\S+)*)\s*$")


def extension(path: str) -> str:
    """The suffix of ``path``'s file name, lower case, without the dot ("" for none)."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def file_kind(path: str) -> str:
    """The kind of file ``path`` is by its suffix alone: "report" for .txt/.rpt/.log, the format for the rest
    (.edf and .edif, .il and .rtlil are one kind each), an unknown suffix itself, "" for none."""
    suffix = extension(path)
    return "report" if suffix in _REPORT_SUFFIXES else _SUFFIX_KIND.get(suffix, suffix)


def _writer_line(kind: str, path: str) -> str:
    """The yosys command (without `yosys`) that writes ``path`` as ``kind``; statistics into a .json file as JSON."""
    line = _WRITER_OF[kind].replace("FILE", path)
    return line + " -json" if kind == "stat" and extension(path) == "json" else line


def _clause_before(task: str, path: str) -> str:
    """The words of ``task`` from the start of the clause that names ``path`` up to it."""
    found = re.search(rf"(?<![\w/.-]){re.escape(path)}(?![\w.-])", task)  # not out/a.v inside out/a.vcd
    if found is None:
        return ""
    before = task[max(0, found.start() - 120):found.start()]
    cuts = list(_CLAUSE.finditer(before))
    return before[cuts[-1].end():] if cuts else before


def expected_kind(task: str, path: str) -> str | None:
    """What the file ``path`` named in ``task`` should hold, or None when its name and words do not say."""
    suffix = extension(path)
    words = re.split(r"[_.\-]+", path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower())
    clause = _clause_before(task, path)
    named_stat = bool(set(words) & {"stat", "stats", "statistics"})
    stat = named_stat or bool(_STAT_WORDS.search(clause))
    if suffix == "json":  # only what the words say: JSON can also be a file the script writes itself
        netlist = bool(_NETLIST_WORDS.search(clause))
        return "stat" if stat and not netlist else "json" if netlist and not stat else None
    if suffix in _REPORT_SUFFIXES:
        # a pass named by whole words of the name (out/fsm_info.txt; not out/equiv_check.txt as `check`)
        named = [p for p in _REPORT_PASSES if any(words[i:i + len(p.split("_"))] == p.split("_")
                                                  for i in range(len(words)))]
        if named_stat or (stat and not named):  # out/hierarchy_stats.txt: the statistics
            return "stat"
        return named[0] if len(named) == 1 else None
    return _SUFFIX_KIND.get(suffix)


def expected_kinds(task: str, outputs: list[str]) -> dict[str, str]:
    """The kind of each of the task's files (``outputs``, from :func:`assistant.tcl.fixits.task_paths`) whose
    kind its name and words say; patterns (`out/${module}.v`) are left out."""
    kinds = {p: expected_kind(task, p) for p in outputs if "$" not in p}
    return {p: k for p, k in kinds.items() if k}


def content_kind(text: str) -> str | None:
    """What ``text`` is, by yosys's banners and the formats' headers; None when nothing is recognised."""
    return next((kind for kind, sig in _SIGNATURES if sig.search(text)), None)


def wrong_kind(text: str, expected: str) -> str | None:
    """The kind ``text`` shows when it is not ``expected`` (it lacks the expected signature and shows another's);
    None when it holds the expected kind or nothing recognisable (a file written by hand in Tcl)."""
    if _SIGNATURE[expected].search(text):
        return None
    found = content_kind(text)
    if found is None or found == expected or (found in _REPORTS and expected in _REPORTS):
        return None
    return found


def wrong_outputs(artifacts: Path, kinds: dict[str, str], limit: int = 1 << 20) -> list[str]:
    """The task's files under ``artifacts`` (the run's kept files) that hold another kind than ``kinds`` says,
    one sentence each, for the repair prompt and the user: "out/x.json holds a yosys stat report, not a yosys
    JSON netlist (write_json): write it with `yosys write_json out/x.json`"."""
    found = []
    for path, kind in kinds.items():
        f = Path(artifacts) / path.lstrip("/")
        if not f.is_file():
            continue  # a missing file is reported as missing
        with f.open("rb") as fh:
            text = fh.read(limit).decode("utf-8", errors="replace")
        other = wrong_kind(text, kind)
        if other:
            how = f": write it with `yosys {_writer_line(kind, path)}`" if kind in _WRITER_OF else ""
            found.append(f"{path} holds {_NAMES[other]}, not {_NAMES[kind]} as the task asks{how}")
    return found


def missing_writers(script: str, kinds: dict[str, str]) -> tuple[str, list[str]]:
    """The line that writes each of the task's files the script never mentions, added at its end (before a
    closing `exit`), for the kinds that any script can end with (:data:`_ADDABLE`: statistics, netlists):
    the script did the work and left out the file, the commonest way a small model's script runs clean without
    doing the task. Nothing is added to a script that writes through variables (`out/${top}.blif` may be the
    file) or that ends by clearing the design."""
    lines = script.rstrip("\n").split("\n")
    code = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    at = len(lines) - 1 if code and re.fullmatch(r"exit\b.*", code[-1]) else len(lines)
    variable = any(re.search(r"(?:\s-[oa]|\bopen|\bwrite_\w+.*)\s+\S*[$\[]", ln) for ln in code)
    if not code or variable or re.match(r"yosys\s+design\s+-reset\b", code[-1]) \
            or not any(re.match(r"yosys\s+\S", ln) for ln in code):
        return script, []
    fixes = []
    for path, kind in kinds.items():
        if kind in _ADDABLE and path not in script and path.rsplit("/", 1)[-1] not in script:
            line = f"yosys {_writer_line(kind, path)}"
            lines.insert(at, line)
            at += 1
            fixes.append(f"line {at}: added `{line}` (the task asks for {path}, {_NAMES[kind]}, and the script "
                         "never wrote it)")
    return ("\n".join(lines) + "\n", fixes) if fixes else (script, [])


def _line_kind(m: re.Match, tee: bool) -> str | None:
    if tee:
        return "stat" if m.group(4) == "stat" else m.group(4) if m.group(4) in _REPORT_PASSES else None
    return _MAKES.get(m.group(2))


def writer_fixits(script: str, kinds: dict[str, str]) -> tuple[str, list[str]]:
    """Lines that write one of the task's files with the wrong kind of output rewritten to the line that writes
    the kind the task asks for: `yosys write_verilog -noattr out/x_stat.txt` -> `yosys tee -o out/x_stat.txt
    stat`, `yosys tee -o out/x.json stat -json` -> `yosys write_json out/x.json` (a small model picks the writer
    of the closest example). Only kinds with one certain writer (:data:`_WRITER_OF`), never one report pass
    for another, never a file more than one line writes; JSON statistics get `-json`."""
    lines, fixes = script.split("\n"), []
    found = [(i, m, bool(tee)) for i, line in enumerate(lines)
             for tee in [_TEE_LINE.match(line)] for m in [tee or _WRITER_LINE.match(line)] if m]
    targets = [m.group(3) if tee else m.group(5) for _, m, tee in found]
    for (i, m, tee), path in zip(found, targets):
        line = lines[i]
        want, made = kinds.get(path), _line_kind(m, tee)
        if want is None or made is None or want == made or want not in _WRITER_OF:
            continue
        if targets.count(path) > 1 or (want in _REPORTS and made in _REPORTS):
            continue  # a file several lines write (`tee -a`), or one report in another's file: left as written
        new = _writer_line(want, path)
        lines[i] = f"{m.group(1)}yosys {new}"
        fixes.append(f"line {i + 1}: `{line.strip()}` -> `yosys {new}` ({path} should hold {_NAMES[want]}, "
                     f"not {_NAMES[made]})")
    return "\n".join(lines), fixes
