"""Command databases: which commands a tool has, their options, and nearest-name suggestions.

A :class:`CommandDB` is built from the tool itself (yosys: :mod:`assistant.tcl.yosys_db`) or from its
documentation (OpenROAD: :mod:`assistant.tcl.openroad_db`) and saved as JSON. Tcl's own built-ins come
from ``tclsh`` itself (``info commands``), so the linter never calls ``puts`` or ``foreach`` unknown.

    db = get_db("yosys")
    db.get("synth").option("-top")          # OptionSpec(name='-top', takes_value=True, ...)
    db.suggest_command("synth_fpga")        # ['synth', 'synth_ice40', ...]
"""
from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

TOOLS = ("yosys", "openroad")

# The Tcl 8.6 core commands most scripts use: the fallback when tclsh is not installed, and names a
# documentation parser must never take for a tool's command (`set x [get_nets ...]` is not a signature).
TCL_CORE_COMMANDS = """after append apply array binary break catch cd clock close concat continue dict encoding eof
error eval exec exit expr fconfigure file flush for foreach format gets glob global if incr info interp join
lappend lassign lindex linsert list llength lmap load lrange lrepeat lreplace lreverse lsearch lset lsort namespace
open package pid proc puts pwd read regexp regsub rename return scan seek set source split string subst switch tell
throw time trace try unset update uplevel upvar variable vwait while""".split()


class OptionSpec(BaseModel):
    """One option of a tool command: its name ("-top"), whether it takes a value or is required."""

    name: str  # "-top"
    takes_value: bool = False
    required: bool = False
    description: str = ""
    glued: bool = False  # the value is part of the word: `-DSYNTHESIS` for yosys's `-Dname[=definition]`


class CommandSpec(BaseModel):
    """A tool command lint knows: its options, where it was learnt and whether options are checked."""

    name: str
    summary: str = ""
    usage: str = ""  # the signature as documented
    help: str = ""  # what the command does, in the tool's own prose (first paragraphs)
    options: list[OptionSpec] = Field(default_factory=list)
    source: str = ""  # where it was learnt: "yosys help" or a README path
    check_options: bool = True  # False when only the name is known (options unknown, so never flagged)
    # Spellings the docs use but the command's synopsis lacks (an options table saying `-root_buffer`
    # where the synopsis, what the tool parses, says `-root_buf`): recorded, never accepted as options.
    doc_only_options: list[str] = Field(default_factory=list)

    def option(self, name: str) -> OptionSpec | None:
        """The option called ``name`` (or a glued one it starts with: `-DSYNTHESIS` is `-D`), or None."""
        return next((o for o in self.options if o.name == name), None) or next(
            (o for o in self.options if o.glued and name.startswith(o.name) and len(name) > len(o.name)), None)

    def suggest_option(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` option names close to a misspelt ``name``, for lint's "did you mean"."""
        return difflib.get_close_matches(name, [o.name for o in self.options], n=n, cutoff=0.5)


class CommandDB(BaseModel):
    """Every command of one tool (yosys, openroad) and its version: what lint checks scripts against."""

    tool: str
    version: str = ""
    source: str = ""  # e.g. "yosys -h" or "OpenROAD docs (BSD-3-Clause)"
    commands: dict[str, CommandSpec] = Field(default_factory=dict)

    def get(self, name: str) -> CommandSpec | None:
        """The command called ``name``, or None."""
        return self.commands.get(name)

    def suggest_command(self, name: str, extra: list[str] | None = None, n: int = 3) -> list[str]:
        """Nearest valid command names (the tool's, plus ``extra`` such as Tcl built-ins)."""
        names = list(self.commands) + list(extra or [])
        return difflib.get_close_matches(name, names, n=n, cutoff=0.6)

    def save(self, path: Path) -> None:
        """Write atomically: a temp file in the same folder, then os.replace."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.model_dump_json(indent=1))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "CommandDB":
        """The database ``save`` wrote to ``path``."""
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def tcl_builtins() -> frozenset[str]:
    """Commands a plain Tcl interpreter knows, asked from tclsh itself (fallback list without tclsh)."""
    tclsh = shutil.which("tclsh")
    if tclsh:
        try:
            out = subprocess.run([tclsh], input="puts [info commands]\n", capture_output=True, text=True,
                                 timeout=10, check=True).stdout
            # `info commands` also lists the ::tcl:: helpers' short names; Tcl's own ensembles and
            # procs from init.tcl (e.g. auto_load, parray) are included as they are real commands.
            return frozenset(out.split())
        except (OSError, subprocess.SubprocessError):
            pass
    return frozenset(TCL_CORE_COMMANDS)


def get_db(tool: str, data_dir: Path | None = None, index_dir: Path | None = None,
           user_groups=None) -> CommandDB:
    """The command database for ``tool``: yosys's from the installed binary (cached under data_dir);
    OpenROAD's from the shipped JSON plus the OpenROAD-format docs in the index at ``index_dir`` that are
    visible to ``user_groups`` (None: public only)."""
    if tool == "yosys":
        from assistant.tcl.yosys_db import load_yosys_db

        return load_yosys_db(data_dir)
    if tool == "openroad":
        from assistant.tcl.openroad_db import load_openroad_db

        return load_openroad_db(Path(index_dir) if index_dir else None, user_groups)
    raise ValueError(f"tool: unknown tool {tool!r} (choose from {', '.join(TOOLS)})")
