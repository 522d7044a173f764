"""Dry run for real-scale recipes: instantiate the model on the meta device (no memory, no weights) from an
architecture config and estimate memory per GPU under FSDP full-shard / DeepSpeed ZeRO-3.

Run: `chipassist adapt dry-run adapters/recipes/llama2-13b.yaml`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from adapters.config import Recipe, RecipeError


def meta_model(config_json: Path, extra_vocab: int = 0, pad_to: int = 64):
    """The model on the meta device, with the vocab grown as tokenizer augmentation would."""
    from transformers import AutoConfig, AutoModelForCausalLM
    if not Path(config_json).is_file():
        raise RecipeError(f"model.config_json: {config_json} not found")
    conf = AutoConfig.for_model(**json.loads(Path(config_json).read_text()))
    if extra_vocab:
        conf.vocab_size = -(-(conf.vocab_size + extra_vocab) // pad_to) * pad_to
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(conf)


def estimate(recipe: Recipe) -> dict:
    """GiB per GPU: sharded bf16 weights+grads and fp32 master+Adam (16 B/param full FT), activations with
    checkpointing (one block's input per layer, plus the widest layer's working set), and one gathered layer."""
    extra = recipe.tokenizer.max_new_tokens if recipe.tokenizer.enabled else 0
    model = meta_model(recipe.model.config_json, extra, recipe.tokenizer.pad_to_multiple_of)
    c = model.config
    n = sum(p.numel() for p in model.parameters())
    world = recipe.distributed.gpus_per_node * recipe.distributed.nodes
    t = recipe.dapt
    full = t.method == "full"
    states = (16 if full else 2) * n / world
    seq, mb, h, L = t.block_size, t.micro_batch_size, c.hidden_size, c.num_hidden_layers
    act = mb * seq * h * 2 * L + mb * seq * (c.intermediate_size * 3 + h * 4) * 2 + mb * seq * c.vocab_size * 4
    layer = n / L * 2 * 2  # one all-gathered layer (bf16), prefetching the next
    gib = 2 ** 30
    total = (states + act + layer) / gib
    accum = t.global_batch_size // (mb * world) if t.global_batch_size >= mb * world else 1
    return {"params_b": round(n / 1e9, 3), "vocab": c.vocab_size, "gpus": world, "method": t.method,
            "states_gib": round(states / gib, 2), "activations_gib": round(act / gib, 2),
            "gathered_layer_gib": round(layer / gib, 2), "total_gib": round(total, 2),
            "fits": total < recipe.distributed.gpu_memory_gib * 0.9, "grad_accum_steps": accum,
            "tokens_per_step": t.global_batch_size * seq}
