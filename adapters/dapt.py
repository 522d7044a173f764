"""Domain-adaptive pretraining (DAPT): continued causal-LM training on packed domain blocks mixed with general
text, full fine-tuning by default (ChipNeMo found LoRA clearly worse for DAPT) or LoRA.

Run: `chipassist adapt dapt RECIPE` (one process) or `accelerate launch --config_file
adapters/recipes/accelerate_fsdp.yaml -m adapters.pipeline RECIPE --stage dapt` on GPUs.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from adapters.config import Recipe, RecipeError
from adapters.data import load_general, mix, pack, recipe_domain, split_heldout


def load_model_and_tokenizer(folder: Path, dtype: str = "float32"):
    """Load a local HF model + tokenizer, failing clearly on a missing folder or mismatched vocab."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise RecipeError(f"model folder {folder} has no config.json (missing or not a Hugging Face model)")
    try:
        tok = AutoTokenizer.from_pretrained(folder)
    except Exception as e:
        raise RecipeError(f"tokenizer in {folder} could not be loaded: {e}") from e
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
    rows = model.get_input_embeddings().weight.shape[0]
    if rows < len(tok):
        raise RecipeError(f"{folder}: tokenizer has {len(tok)} tokens but the model only {rows} embedding rows "
                          "(tokenizer and model folders do not match)")
    return model, tok


def lm_collate(blocks: list[torch.Tensor]) -> dict:
    """A causal-LM batch from packed blocks: the labels are the inputs (the model shifts them)."""
    x = torch.stack(blocks)
    return {"input_ids": x, "labels": x}


def eval_batches(blocks: torch.Tensor, limit: int, bs: int = 8) -> list[dict]:
    """The first ``limit`` blocks as batches of ``bs``, for a quick held-out perplexity."""
    blocks = blocks[:limit]
    return [lm_collate(list(blocks[i:i + bs])) for i in range(0, len(blocks), bs)]


def apply_lora(model, cfg, base_vocab: int | None = None):
    """Wrap with peft LoRA; rows of tokens added by tokenizer augmentation (ids >= base_vocab) stay trainable
    (peft trainable tokens: only those rows, and tied output embeddings stay tied)."""
    from peft import LoraConfig, get_peft_model
    rows = model.get_input_embeddings().weight.shape[0]
    added = list(range(base_vocab, rows)) if base_vocab and base_vocab < rows else None
    lc = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=cfg.target_modules,
                    task_type="CAUSAL_LM", trainable_token_indices={"embed_tokens": added} if added else None)
    return get_peft_model(model, lc)


def merged(model):
    """A LoRA-wrapped model merged back into plain weights (later stages and serving load plain folders)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def save_model_atomic(model, tok, out: Path, extra: dict[str, str] | None = None) -> None:
    """Write model + tokenizer to ``out`` so that a crash at any point leaves a complete folder there.

    Written beside ``out`` first; the old folder is moved aside, not deleted, until the new one is in place
    (a crash between the two renames leaves ``out.old`` complete, and the next save cleans it up).
    """
    tmp, old = out.with_name(out.name + ".tmp"), out.with_name(out.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    for name, text in (extra or {}).items():  # small side files (provenance) that must travel with the weights
        (tmp / name).write_text(text)
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def run_dapt(recipe: Recipe, model_dir: Path, out_dir: Path, log=print, stop_after: int | None = None,
             base_vocab: int | None = None) -> dict:
    """Train from `model_dir` into `out_dir/model`; returns a report with perplexities before/after."""
    cfg = recipe.dapt
    domain = recipe_domain(recipe.data)  # errors on an empty corpus before loading the model
    general = load_general(recipe.data.general, recipe.data.max_general_chars)
    from adapters.trainer import train, train_precision
    dtype, mixed = train_precision(recipe.model.dtype, cfg.mixed_precision, log)
    cfg = cfg.model_copy(update={"mixed_precision": mixed})
    model, tok = load_model_and_tokenizer(model_dir, dtype)
    d_train, d_held = split_heldout([t for _, t in domain], recipe.data.heldout_fraction)
    g_train, g_held = split_heldout(general, recipe.data.heldout_fraction)
    dom_blocks = pack(d_train, tok, cfg.block_size)
    blocks = mix(dom_blocks, pack(g_train, tok, cfg.block_size), cfg.general_ratio, recipe.seed)
    evals = {"domain_ppl": eval_batches(pack(d_held, tok, cfg.block_size), cfg.eval_blocks),
             "general_ppl": eval_batches(pack(g_held, tok, cfg.block_size), cfg.eval_blocks)}
    if recipe.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if cfg.method == "qlora":
        raise RecipeError("dapt.method: qlora is for SFT only; use full (default) or lora")
    if cfg.method == "lora":
        model = apply_lora(model, cfg.lora, base_vocab)
    torch.manual_seed(recipe.seed)
    model, hist = train(model, list(blocks), lm_collate, cfg, out_dir, recipe.fingerprint("dapt"), evals, log,
                        stop_after)
    save_model_atomic(merged(model), tok, out_dir / "model")
    losses = hist["loss"]
    return {"blocks": len(blocks), "domain_blocks": len(dom_blocks), "general_share": cfg.general_ratio,
            "steps": hist["steps"], "steps_done": hist.get("steps_done"), "method": cfg.method,
            "precision": f"{dtype}/{mixed}", "train_seconds": hist.get("train_seconds"),
            "stopped_by_budget": bool(hist.get("stopped_by_budget")), "tokens_per_s": _mean(hist.get("tokens_per_s")),
            "losses": losses, "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "eval": hist["eval"]}


def _mean(xs) -> float | None:
    """Mean of a list of step measurements (None when no step ran)."""
    return round(sum(xs) / len(xs), 1) if xs else None
