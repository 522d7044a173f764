"""A site's own checked scripts as worked examples (``tcl.library``), searched together with the cookbook.

Teams keep scripts that work: the flows of past projects, the answers to questions asked before. A library
file is either a cookbook YAML (:mod:`assistant.tcl.cookbook`) or a task file in the format of
:mod:`assistant.tcl.tasks` (one ``{id, task, design, top, reference}`` a line), whose references become
recipes by templating: each block of plain reads of the design becomes ``{read}`` and the top ``{top}``, so
the example the model is shown is filled in with the user's own files and module, as the hand-written recipes
are. A reference that never reads the design plainly (only in a loop, or with ``-lib``) would show the site's
own paths to another design, and is skipped and reported.

    book = site_cookbook("yosys", [Path("team/yosys_tasks.jsonl")])
    book.search("write an EDIF netlist", n=3)

Measured on unseen tasks, the 1.5B model did not pass more of them with the 206 checked tasks of this repo
as its library (bench/README.md): BM25 finds solved tasks that share the words but do something else, and the
small model copies them. So the library is off unless configured. Every user may be shown its scripts (they
come back as the generation's sources), like the cookbook's; known secrets and secret-shaped strings are
scrubbed from them when they are read.
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from pydantic import ValidationError

from assistant.tcl.cookbook import Cookbook, Recipe, load_cookbook
from assistant.tcl.tasks import load_tasks
from corpora.config_io import load_yaml_model
from corpora.curate import scrub_secrets

log = logging.getLogger(__name__)

# a plain read of HDL files on a line of its own: what `{read}` (the user's read line) stands for
_READ = re.compile(r"yosys read_verilog(?: -sv)?((?: \S+\.s?v)+)\s*$")
_OUT = "<out>/"


def recipe_from_task(task: dict) -> Recipe:
    """A checked task ({task, top, reference}) as a recipe. Each block of consecutive plain reads of the design
    becomes one ``{read}`` (it reads every file; a second block, after `design -stash`, gets its own), and
    whole-word uses of the top become ``{top}``, in the task text too, but not a pass named like it (`yosys
    fsm`). ``<out>/`` goes: recipes name bare files, and the fix-its give the user's task its own names. Reads
    of files the script wrote, with options (-lib, -formal) or inside loops stay as written. ValueError saying
    why when the task cannot be a recipe for another design."""
    script, top = task.get("reference"), task.get("top")
    if not isinstance(script, str) or not script.strip():
        raise ValueError("no reference script")
    lines: list[str] = []
    for line in script.splitlines():
        if _READ.match(line) and _OUT not in line:
            if not lines or lines[-1] != "{read}":
                lines.append("{read}")
            continue
        lines.append(line)
    if "{read}" not in lines:
        raise ValueError("the reference never reads the design with a plain `yosys read_verilog` line of its "
                         "own, so it cannot be filled in for another design")
    script, text = "\n".join(lines).replace(_OUT, ""), str(task.get("task", "")).replace(_OUT, "")
    if isinstance(top, str) and top:
        # the name itself: not inside a path, an option, a placeholder or a word (`rtl/top.v`, `-top`,
        # `{read}`, `top-level`), nor the pass after `yosys`
        name = re.compile(rf"(?<![\w/.${{-])(?<!yosys ){re.escape(top)}(?![\w/}}-])")
        script, text = name.sub("{top}", script), name.sub("{top}", text)
    return Recipe(task=text, script=script)


def library_recipes(path: Path, tool: str = "yosys",
                    secrets: Iterable[str] = ()) -> tuple[list[Recipe], list[str]]:
    """The recipes of one library file: a cookbook YAML (``.yaml``/``.yml``), or a task file whose ``tool``
    tasks become recipes (:func:`recipe_from_task`), scrubbed of ``secrets`` and of secret-shaped strings.
    Tasks that cannot be one are skipped and reported ("FILE: ID: why"); a file that cannot be read is a
    ValueError naming it."""
    path = Path(path)
    skipped: list[str] = []
    if path.suffix in (".yaml", ".yml"):
        recipes = load_yaml_model(path, Cookbook, what="Tcl script library").recipes
    else:
        recipes = []
        for task in load_tasks(path):
            if task.get("tool", "yosys") != tool:
                continue
            try:
                recipes.append(recipe_from_task(task))
            except ValidationError as e:
                why = e.errors()[0]["msg"].removeprefix("Value error, ")
                skipped.append(f"{path}: {task.get('id')}: {why}")
            except ValueError as e:
                skipped.append(f"{path}: {task.get('id')}: {e}")
    secrets = list(secrets)
    return [r.model_copy(update={"task": scrub_secrets(r.task, secrets)[0],
                                 "script": scrub_secrets(r.script, secrets)[0]}) for r in recipes], skipped


def site_cookbook(tool: str, library: Iterable[Path] = (), secrets: Iterable[str] = ()) -> Cookbook | None:
    """The shipped cookbook of ``tool`` with the recipes of the ``library`` files after it, read again when a
    file changes (its modification time is part of the cache key); None when there are none. Tasks skipped
    are logged once per read; a missing or unreadable file is an OSError or ValueError naming it."""
    files = tuple((str(p), Path(p).stat().st_mtime_ns) for p in library)
    return _site_cookbook(tool, files, tuple(secrets)) if files else load_cookbook(tool)


@lru_cache(maxsize=8)
def _site_cookbook(tool: str, files: tuple[tuple[str, int], ...], secrets: tuple[str, ...]) -> Cookbook | None:
    book = load_cookbook(tool)
    recipes = list(book.recipes) if book else []
    for path, _ in files:
        found, skipped = library_recipes(Path(path), tool, secrets)
        for why in skipped:
            log.warning("tcl.library: skipped %s", why)
        recipes += found
    return Cookbook(recipes=recipes) if recipes else None
