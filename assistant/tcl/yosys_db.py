"""yosys's command database, learnt from the installed yosys itself (`yosys -p 'help -all'`).

Each help section looks like::

    synth  --  generic synthesis script
    ===================================

        synth [options]
    ...
        -top <module>
            use the specified module as top module

so option names come from the 4-space-indented lines starting with '-' (plus the bracketed parts of
the usage line), and an option takes a value when a placeholder follows its name. The parsed database
is cached in-process, and on disk as ``<data_dir>/tcl/yosys-<version>-v<FORMAT>.json`` when a data_dir is given.

    python -m assistant.tcl.yosys_db            # print how many commands and options were found
"""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from assistant.tcl.commands import CommandDB, CommandSpec, OptionSpec

_HEADER = re.compile(r"^(\S+)  --  (.*)$")
_OPTION_LINE = re.compile(r"^\s{2,}(-[A-Za-z].*)$")
_MENTIONED = re.compile(r"(?<![\w-])(-[A-Za-z][A-Za-z0-9_+-]*)")
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
_GLUED = re.compile(r"^-[A-Z](?:name|dir|file|path|macro)$")
# Bump when parsing changes, so a cached database from an older parser is rebuilt.
FORMAT = 3
HELP_CHARS = 600  # a command's prose kept for matching tasks to commands
# Commands whose trailing arguments are another yosys command (usage ends in "cmd"), linted as such.
WRAPPERS_USAGE_TAIL = ("cmd", "<command>", "[command]")


class YosysNotFound(RuntimeError):
    """yosys is not installed (or not on PATH)."""


def yosys_version(yosys: str | None = None) -> str:
    """The installed yosys's version line (`yosys -V`); YosysNotFound when it is not installed."""
    exe = yosys or shutil.which("yosys")
    if not exe:
        raise YosysNotFound("yosys is not installed (not found on PATH)")
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=30).stdout.strip()
    m = re.search(r"Yosys (\S+)", out)
    return m.group(1) if m else out or "unknown"


def parse_help_all(text: str, version: str = "") -> CommandDB:
    """Parse the output of yosys `help -all` into a CommandDB."""
    db = CommandDB(tool="yosys", version=version, source="yosys help -all (the installed binary)")
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines[:-1]) if _HEADER.match(ln) and lines[i + 1].startswith("==")]
    for n, i in enumerate(starts):
        name, summary = _HEADER.match(lines[i]).groups()
        body = lines[i + 2:starts[n + 1] if n + 1 < len(starts) else len(lines)]
        db.commands[name] = _parse_section(name, summary.strip(), body)
    return db


def _parse_section(name: str, summary: str, body: list[str]) -> CommandSpec:
    """Options from four places, most structured first: option lines ("  -top <module>", any indent),
    usage lines ("design -save <name>", "[-o logfile|-a logfile]"), options a pass says it passes through
    (opt: "opt_dff [-nodffe]") and, leniently, any "-option" its prose mentions ("when called with -fast"):
    flagging a real option as unknown would teach users to ignore the checker."""
    usage = [ln.strip() for ln in body if ln.startswith("    " + name) and not ln.startswith("     ")]
    options: dict[str, OptionSpec] = {}
    for idx, ln in enumerate(body):
        m = _OPTION_LINE.match(ln)
        if not m:
            continue
        desc = _description(body, idx)
        for alt in re.split(r",\s+|\s+\|\s+", m.group(1)):
            _add_option(options, alt, desc)
    # Script passes (synth, opt) list the commands they run, with those commands' options: only a pass
    # whose help says its options are "passed through" accepts them.
    passes_through = "passed through" in " ".join(body)
    for ln in body:
        if ln.startswith("    " + name) or (passes_through and ln.startswith("    ")):
            for group in _BRACKETED.findall(ln):
                for alt in group.split("|"):
                    _add_option(options, alt, "")
    for u in usage:  # unbracketed "-save <name>" forms
        for opt, value in re.findall(r"(?<![\w\[-])(-[A-Za-z][\w+.-]*)(\s+<[^>]+>)?", _BRACKETED.sub("", u)):
            _add_option(options, opt + (" <value>" if value else ""), "")
    unindented = [ln for ln in body if ln and not ln[0].isspace()]
    prose = "\n".join([ln for ln in body if ln] if passes_through else unindented)  # "with -fast"
    for opt in _MENTIONED.findall(prose):
        _add_option(options, opt, "")
    # the unindented prose ("This command replaces clocked flip-flops with ... the implicit global clock"): what
    # an engineer's wording matches when the command's name does not (assistant.tcl.options)
    about = " ".join(" ".join(ln.split()) for ln in unindented)
    return CommandSpec(name=name, summary=summary, usage="\n".join(usage), options=list(options.values()),
                       source="yosys help", help=about[:HELP_CHARS])


def _description(body: list[str], idx: int) -> str:
    """The whole description of the option on line ``idx``: the deeper-indented lines after it, up to a blank
    line. Options listed together ("-true ...", "-false ...", "-undef ...") share the one that follows them."""
    indent = len(body[idx]) - len(body[idx].lstrip())
    j = idx + 1
    while j < len(body) and _OPTION_LINE.match(body[j]) and len(body[j]) - len(body[j].lstrip()) == indent:
        j += 1  # the rest of a group of options
    lines = []
    while j < len(body) and body[j].strip() and len(body[j]) - len(body[j].lstrip()) > indent:
        lines.append(body[j].strip())
        j += 1
    return " ".join(lines)


def _add_option(options: dict[str, OptionSpec], alt: str, desc: str) -> None:
    tokens = alt.split()
    if not tokens or not re.match(r"^-[A-Za-z]", tokens[0]):
        return
    opt = re.sub(r"[\[<{].*$", "", tokens[0])  # "-D<name>" style: keep the flag itself
    # "-Dname[=definition]", "-Idir", "-D<macro>": one letter with its value glued on (`-DSYNTHESIS`)
    glued = _GLUED.match(opt) or (opt != tokens[0] and len(opt) == 2)
    if glued:
        opt = opt[:2]
    takes_value = (len(tokens) > 1 and not tokens[1].startswith("-")) or opt != tokens[0]
    old = options.get(opt)
    if old is None:
        options[opt] = OptionSpec(name=opt, takes_value=takes_value and not glued, description=desc,
                                  glued=bool(glued))
    else:  # listed twice (option list and usage line): a value named in either place counts
        old.takes_value = old.takes_value or (takes_value and not glued)
        old.description = old.description or desc
        old.glued = old.glued or bool(glued)


def is_wrapper(spec: CommandSpec) -> bool:
    """True for commands like `tee` whose trailing words are another command."""
    return any(u.split()[-1] in WRAPPERS_USAGE_TAIL for u in spec.usage.splitlines() if u.split())


@lru_cache(maxsize=4)
def _load(yosys: str, version: str, cache: Path | None) -> CommandDB:
    if cache is not None and cache.is_file():
        try:
            return CommandDB.load(cache)
        except ValueError:
            pass  # a damaged cache is rebuilt below
    out = subprocess.run([yosys, "-Q", "-T", "-p", "help -all"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    db = parse_help_all(out, version)
    if cache is not None:
        db.save(cache)
    return db


def load_yosys_db(data_dir: Path | None = None) -> CommandDB:
    """The installed yosys's commands and options (cached per yosys version)."""
    exe = shutil.which("yosys")
    if not exe:
        raise YosysNotFound("yosys is not installed (not found on PATH): its command database is built "
                            "from the tool itself")
    version = yosys_version(exe)
    cache = Path(data_dir) / "tcl" / f"yosys-{re.sub(r'[^A-Za-z0-9.+_-]', '_', version)}-v{FORMAT}.json" if data_dir else None
    return _load(exe, version, cache)


if __name__ == "__main__":
    db = load_yosys_db()
    n_opts = sum(len(c.options) for c in db.commands.values())
    print(f"yosys {db.version}: {len(db.commands)} commands, {n_opts} options")
