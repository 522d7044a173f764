"""Fixtures for the adapters tests: a small synthetic chip corpus, general text, and a tiny Llama base folder
(2 layers, hidden 32) built locally once per session; each test copies what it changes."""
from __future__ import annotations

import shutil

import pytest

from adapters.config import Recipe, TinyModel
from adapters.data import load_general

BLOCKS = ["uart", "dma", "cru", "spi", "i2c", "timer"]


def _domain_text(i: int, block: str) -> str:
    return (f"# {block.upper()} controller\n\nThe {block}_ctrl register enables the {block} clock_gate and "
            f"the {block}_irq_status interrupt. Write {block}_ctrl.enable before {block}_start.\n\n"
            f"| Field | Description |\n|---|---|\n| {block}_en | enables the {block} block |\n\n"
            f"Gate the {block} clock and read its RTL in the flow:\n\n```tcl\nset_clock_gating {block}_clk -enable {block}_en\nread_verilog {block}.v\n```\n\n"
            f"module {block}_core (input wire clk_i, input wire rst_ni, output reg {block}_irq_o);\n"
            f"  always_ff @(posedge clk_i or negedge rst_ni) {block}_irq_o <= {i % 2};\nendmodule\n")


@pytest.fixture(scope="session")
def domain_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("chipcorpus")
    for i in range(24):
        b = BLOCKS[i % len(BLOCKS)]
        (root / f"{b}_{i}.md").write_text(_domain_text(i, b) * 3)
    return root


@pytest.fixture(scope="session")
def general_texts():
    return load_general("stdlib", 60_000)


@pytest.fixture(scope="session")
def tiny_base_master(tmp_path_factory, general_texts):
    from adapters.tiny import make_tiny_base
    out = tmp_path_factory.mktemp("tinybase") / "base"
    make_tiny_base(out, general_texts, TinyModel(hidden_size=32, num_layers=2, num_heads=2, vocab_size=512,
                                                 pretrain_steps=20, block_size=64, batch_size=4))
    return out


@pytest.fixture
def tiny_base(tiny_base_master, tmp_path):
    dst = tmp_path / "base"
    shutil.copytree(tiny_base_master, dst)
    return dst


@pytest.fixture
def make_recipe(domain_root, tmp_path):
    def make(**sections) -> Recipe:
        raw = {"name": "t", "output_dir": str(tmp_path / "run"), "model": {"base": None, "tiny": {}},
               "data": {"domain_roots": [str(domain_root)], "general": "stdlib", "heldout_fraction": 0.2,
                        "max_general_chars": 30_000},
               "tokenizer": {"train_vocab_size": 700, "min_frequency": 2},
               "dapt": {"lr": 3e-3, "block_size": 64, "micro_batch_size": 4, "global_batch_size": 4,
                        "max_steps": 12, "checkpoint_every": 4, "eval_every": 12, "eval_blocks": 8},
               "sft": {"lr": 3e-3, "block_size": 128, "micro_batch_size": 4, "global_batch_size": 4,
                       "max_steps": 12, "general_ratio": 0.2, "checkpoint_every": 100, "eval_every": 100}}
        for k, v in sections.items():
            raw[k] = {**raw.get(k, {}), **v} if isinstance(v, dict) else v
        return Recipe.model_validate(raw)
    return make
