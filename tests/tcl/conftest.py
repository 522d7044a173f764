"""Fixtures for the Tcl checker and generator tests: real yosys/tclsh (skipped cleanly when absent),
a tiny design, and a scripted stand-in LLM (the one honest stand-in: model answers are the input under test)."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.tcl.sandbox import confinement

# The sandbox tests run wherever bubblewrap can confine a run, and say why not elsewhere.
needs_sandbox = pytest.mark.skipif(not confinement().ok, reason=f"no Tcl sandbox here: {confinement().reason}")

COUNTER_V = """module counter(input clk, input rst, output reg [3:0] q);
  always @(posedge clk) if (rst) q <= 4'd0; else q <= q + 4'd1;
endmodule
"""


@pytest.fixture(scope="session")
def yosys() -> str:
    exe = shutil.which("yosys")
    if not exe:
        pytest.skip("yosys is not installed (apt-get install yosys)")
    return exe


@pytest.fixture(scope="session")
def tclsh() -> str:
    exe = shutil.which("tclsh")
    if not exe:
        pytest.skip("tclsh is not installed (apt-get install tcl)")
    return exe


@pytest.fixture()
def design(tmp_path) -> Path:
    """A user's design folder with one Verilog file (tests check it is never modified)."""
    folder = tmp_path / "user_design"
    folder.mkdir()
    path = folder / "counter.v"
    path.write_text(COUNTER_V, encoding="utf-8")
    return path


class ScriptedLLM:
    """Implements the LLM protocol (assistant/llm/base.py), answering from a fixed list and recording prompts."""

    name = "scripted"
    model = "scripted-test"
    context_tokens = 8192

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.prompts: list[list[dict[str, str]]] = []
        self.temperatures: list[float | None] = []
        self.seeds: list[int | None] = []

    def complete(self, messages, *, max_tokens=None, temperature=None, stop=None, seed=None) -> str:
        self.prompts.append([dict(m) for m in messages])
        self.temperatures.append(temperature)
        self.seeds.append(seed)
        return self.answers.pop(0)

    def stream(self, messages, *, max_tokens=None, temperature=None, stop=None, seed=None) -> Iterator[str]:
        yield self.complete(messages)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture()
def scripted_llm():
    return ScriptedLLM
