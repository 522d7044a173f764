"""Export for serving: merge LoRA (if any) into the weights, cast to bf16 and write a Hugging Face folder with the
extended tokenizer, then print the `vllm serve` command. vLLM cannot serve LoRA adapters that carry resized
embeddings, so we always merge. Run: `chipassist adapt export RECIPE` or `--model DIR --out DIR`.
"""
from __future__ import annotations

from pathlib import Path

import torch

from adapters.config import RecipeError
from adapters.dapt import save_model_atomic


def load_merged(model_dir: Path):
    """A plain transformers model from a full folder or a peft adapter folder (merged)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model_dir = Path(model_dir)
    if (model_dir / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM
        model = AutoPeftModelForCausalLM.from_pretrained(model_dir).merge_and_unload()
    elif (model_dir / "config.json").is_file():
        model = AutoModelForCausalLM.from_pretrained(model_dir)
    else:
        raise RecipeError(f"{model_dir}: neither a model (config.json) nor a LoRA adapter (adapter_config.json)")
    return model, AutoTokenizer.from_pretrained(model_dir)


def export(model_dir: Path, out_dir: Path, dtype: str = "bfloat16", tp: int = 1) -> dict:
    """Merge any adapter, cast to ``dtype`` and save the model atomically to ``out_dir``; returns the
    folder and the `vllm serve` command that serves it."""
    model, tok = load_merged(model_dir)
    model = model.to(getattr(torch, dtype))
    save_model_atomic(model, tok, out_dir)
    cmd = (f"vllm serve {out_dir.resolve()} --dtype {dtype} --served-model-name {out_dir.name} "
           f"--tensor-parallel-size {tp} --max-model-len 4096")
    return {"folder": str(out_dir), "vocab": len(tok), "dtype": dtype, "serve": cmd}
