"""What a generated script can read from the user's design: files as the sandbox names them, modules, tops.

    view = DesignView.of([Path("rtl")], "synthesize the clock and reset unit")
    view.needed, view.tops          # ['rtl/cru.v'], ['cru']: found from cru.v's title comment
    read_line("yosys", view.needed) # 'yosys read_verilog rtl/cru.v'

A task names its module by name ("synthesize uart_tx") or by description ("the clock and reset unit", matched
against each file's title comment); the files it needs follow the instantiations from there, with the
SystemVerilog packages they use read first. A small model reads whatever file list it is shown, so the
prompt shows the files the task needs, not the whole folder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assistant.tcl.cookbook import terms
from assistant.tcl.fixits import task_paths

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")
_FILE = re.compile(r"[\w./-]+\.(?:s?v|vh|svh)\b")  # a design file the task names: `rtl/cru.v`


def _design_files(designs: list[Path]):
    """(name in the sandbox, path) of every file of the design: a folder is copied whole, keeping its name."""
    for p in designs:
        if p.is_dir():
            yield from ((f"{p.name}/{f.relative_to(p)}", f) for f in sorted(p.rglob("*")) if f.is_file())
        else:
            yield p.name, p


def _sandbox_names(designs: list[Path], limit: int = 20) -> list[str]:
    """The design files as the script sees them in the sandbox."""
    return [name for name, _ in _design_files(designs)][:limit]


_MODULE = re.compile(r"^\s*module\s+([A-Za-z_]\w*)", re.M)
_BODY = re.compile(r"^\s*module\s+([A-Za-z_]\w*)\b.*?^\s*endmodule\b", re.M | re.S)
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_]\w*)", re.M)
_HDL = {".v", ".sv", ".vh", ".svh"}


def _hdl_files(designs: list[Path]) -> dict[str, str]:
    """Sandbox name -> text of every HDL file in the design (named as :func:`_design_files` names them)."""
    return {name: f.read_text(encoding="utf-8", errors="replace") for name, f in _design_files(designs)
            if f.suffix in _HDL and f.is_file() and f.stat().st_size < 2_000_000}


def _instantiates(text: str, module: str) -> bool:
    return bool(re.search(rf"^\s*{re.escape(module)}\s*(#\s*\(|[A-Za-z_]\w*\s*\()", text, re.M))


_TITLE = re.compile(r"^\s*(?://|/\*|\*)\s*(.+)$")


def _described(texts: dict[str, str], defined: dict[str, list[str]], words: set[str]) -> list[str]:
    """The module a task names by description ("the clock and reset unit") rather than by name: the main
    module of the one file whose title comment (its first comment line, `// cru.v - clock and reset unit`)
    shares at least two distinctive words with the task, more than any other file's title."""
    titles = {}
    for name, text in texts.items():
        first = next((ln for ln in text.splitlines()[:5] if ln.strip()), "")
        m = _TITLE.match(first)
        titles[name] = set(terms(m.group(1))) if m and defined[name] else set()
    words = set(terms(" ".join(words)))  # stop words out: "the" is in every title
    common = {w for w in words if sum(w in t for t in titles.values()) > max(1, len(titles) // 2)}
    scores = sorted(((len((t & words) - common), name) for name, t in titles.items()), reverse=True)
    if not scores or scores[0][0] < 2 or (len(scores) > 1 and scores[1][0] == scores[0][0]):
        return []
    name = scores[0][1]
    mains = [m for m in defined[name] if not _instantiates(texts[name], m)]  # not a helper of the file's module
    return (mains or defined[name])[-1:]


def _bodies(texts: dict[str, str]) -> dict[str, str]:
    """Module name -> its text from `module` to `endmodule`: a file often holds a block and its helpers, and
    what the block instantiates is not what its helpers do."""
    return {m.group(1): m.group(0) for text in texts.values() for m in _BODY.finditer(text)}


def _inside(bodies: dict[str, str], top: str) -> set[str]:
    """``top`` and every module it instantiates, transitively."""
    needed, todo = set(), [top]
    while todo:
        m = todo.pop()
        if m in needed:
            continue
        needed.add(m)
        todo += [x for x in bodies if x not in needed and _instantiates(bodies.get(m, ""), x)]
    return needed


def design_modules(designs: list[Path], task: str = "") -> tuple[list[str], list[str], list[str], list[str]]:
    """(modules defined in the design, likely tops, the files the task needs, the modules the task needs).

    A module the task names (and what it instantiates, transitively) picks the files to read and the top:
    "synthesize the UART (uart ...)" on a whole rtl/ folder reads uart.v, uart_tx.v and uart_rx.v with top
    `uart`, not all nine files with the SoC top. With no module named, every file is read and the tops are the
    modules nothing instantiates."""
    texts = _hdl_files(designs)
    defined = {name: _MODULE.findall(text) for name, text in texts.items()}
    modules = [m for ms in defined.values() for m in ms]
    bodies = _bodies(texts)
    # "cru_rst_sync (it is in cru.v)" names cru_rst_sync; a file's name names a module only when no word does
    plain = _FILE.sub(" ", task)
    words = {w.lower() for w in _WORD.findall(plain)}
    named = [m for m in modules if m.lower() in words] or [
        m for m in modules if m.lower() in {w.lower() for w in _WORD.findall(task)}]
    described = _described(texts, defined, words)
    inside = {m: _inside(bodies, m) for m in named}
    if described and any(described[0] in inside[m] for m in named):
        # "the UART receiver" names `uart` by its word and means `uart_rx`, a part of it, by its title: the
        # described part wins over the modules that contain it (never over a module named outside it)
        named = [m for m in named if m == described[0] or described[0] not in inside[m]] + described
        named = list(dict.fromkeys(named))
    named = named or described
    if not named:
        used = {m for m in modules if any(_instantiates(b, m) for o, b in bodies.items() if o != m)}
        files = sorted(texts, key=lambda name: not _PACKAGE.search(texts[name]))  # packages read first
        return modules, [m for m in modules if m not in used], files, modules
    needed = set().union(*(inside.get(m) or _inside(bodies, m) for m in named))
    tops = [m for m in named if not any(_instantiates(bodies.get(o, ""), m) for o in needed if o != m)]
    files = [name for name in texts if any(m in needed for m in defined[name])]
    # packages the needed files import (`import pkg::*`, `pkg::T`) come along, read first as yosys needs
    packages = [name for name in texts if name not in files and any(
        re.search(rf"\b{re.escape(p)}::", texts[f]) for f in files for p in _PACKAGE.findall(texts[name]))]
    files = packages + files
    return modules, tops, files, [m for m in modules if m in needed]


def read_line(tool: str, names: list[str]) -> str | None:
    """The command that reads the user's HDL files, as the script should start. Small models copy any example
    they are shown, file names included, so the one example given is the user's own first line."""
    hdl = [n for n in names if Path(n).suffix in _HDL and not Path(n).suffix.endswith("h")]
    if tool != "yosys" or not hdl:
        return None
    sv = " -sv" if any(n.endswith(".sv") for n in hdl) else ""
    return f"yosys read_verilog{sv} {' '.join(hdl)}"


@dataclass(frozen=True)
class DesignView:
    """What the prompt and the fix-its know of the design, read once per generation (not per prompt fit)."""

    files: list[str]  # as the sandbox names them
    modules: list[str]
    tops: list[str]
    needed: list[str]  # the files the task's modules need
    needed_modules: list[str]  # the modules the task names and what they instantiate
    outputs: list[str]  # the files the task names to write (`fixits.task_paths`; never one of ``files``)

    @classmethod
    def of(cls, designs: list[Path], task: str) -> "DesignView":
        """What the script may read from ``designs`` (the file names in the sandbox, modules, tops and the
        files the task's modules need) and the files ``task`` asks it to write."""
        modules, tops, needed, needed_modules = design_modules(designs, task)
        files = _sandbox_names(designs)
        return cls(files, modules, tops, needed, needed_modules, task_paths(task, files))
