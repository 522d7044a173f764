"""The tool cookbook: short, checked example scripts, picked for the task and filled in with the user's design.

A small model writes what it is shown. Shown whole flows of other designs, the 1.5B model copied their file
names and procs; shown only a list of commands, it wrote the list out in order for every task (read,
hierarchy, proc, opt, synth, abc, stat, tee, write_verilog) whatever was asked. So the prompt gets two or three
worked examples instead: recipes from ``data/<tool>_cookbook.yaml`` (written by the team, each one run clean
on the sample RTL by the tests) whose task reads closest to the user's, with the user's own read line, top and
a submodule filled in, so what the model copies is right for this design.

    book = load_cookbook("yosys")
    for recipe in book.search("write a netlist without attributes", n=2):
        print(recipe.render(read="yosys read_verilog rtl/dma.v", top="dma", sub="dma"))

Matching is BM25 (:mod:`retriever.bm25`'s code-aware tokenizer) over each recipe's task and its ``also``
words, with a light suffix stemmer on both sides so "flattened" finds "flatten" and "attributes" finds
"attribute"; a stemming library would be a dependency for these few lines.

A site's own checked scripts can join these recipes: :mod:`assistant.tcl.library` (``tcl.library``).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from corpora.config_io import load_yaml_model
from retriever.bm25 import BM25Index, tokenize

DATA = Path(__file__).parent / "data"
_SUFFIXES = ("ations", "ation", "ings", "ing", "ers", "ies", "ied", "er", "ed", "es", "s")


def stem(token: str) -> str:
    """``token`` without one common English suffix and a final e ("flattened" -> "flatten", "attributes" and
    "attribute" -> "attribut")."""
    if token.startswith("-") or not token.isalpha():
        return token
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            token = token[: -len(suffix)]
            break
    return token[:-1] if token.endswith("e") and len(token) > 4 else token


def terms(text: str) -> list[str]:
    """``text``'s BM25 tokens (:func:`retriever.bm25.tokenize`), each stemmed: what recipes, option hints and
    file titles are matched on."""
    return [stem(t) for t in tokenize(text)]


class Recipe(BaseModel):
    """One worked example: the task as an engineer asks it, more words for matching, and the script."""

    task: str = Field(min_length=5)
    also: str = ""
    script: str = Field(min_length=5)

    @field_validator("script")
    @classmethod
    def _reads_design(cls, script: str) -> str:
        if "{read}" not in script and "{top}" not in script:
            raise ValueError("a recipe must use the user's design: {read} or {top}")
        return script

    def render_task(self, top: str) -> str:
        """The task as shown in the prompt: a site library's recipe names its top as ``{top}``."""
        return self.task.replace("{top}", top)

    def render(self, read: str, top: str, sub: str) -> str:
        """The script for this design. Plain replacement, not str.format: Tcl is full of braces."""
        return self.script.replace("{read}", read).replace("{top}", top).replace("{sub}", sub).rstrip() + "\n"


class Cookbook(BaseModel):
    """A tool's recipes and a BM25 index over their tasks."""

    recipes: list[Recipe] = Field(min_length=1)

    def model_post_init(self, _context) -> None:
        """Index the recipes once (what search ranks)."""
        texts = [" ".join(terms(f"{r.task} {r.also}")) for r in self.recipes]
        # BM25Index tokenizes its texts again; the stemmed terms are plain words, so they survive as they are
        self._index = BM25Index.build(list(range(len(texts))), texts)

    def search(self, task: str, n: int = 3) -> list[Recipe]:
        """Up to ``n`` recipes whose task reads closest to ``task`` (sharing a word with it), best first."""
        ids, _ = self._index.search(" ".join(terms(task)), n)
        return [self.recipes[int(i)] for i in ids]


@lru_cache(maxsize=8)
def load_cookbook(tool: str, path: Path | None = None) -> Cookbook | None:
    """The cookbook shipped for ``tool`` (or the one at ``path``); None when the tool has none."""
    path = path or DATA / f"{re.sub(r'[^a-z0-9_]', '', tool.lower())}_cookbook.yaml"
    if not Path(path).is_file():
        return None
    return load_yaml_model(path, Cookbook, what="Tcl cookbook")
