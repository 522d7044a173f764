"""Supervised fine-tuning on chat-template data with the loss on assistant tokens only, mixing general and domain
instruction sets by ratio; full, LoRA or QLoRA (bitsandbytes 4-bit, GPU only). One epoch by default.

Domain samples come from `adapters.gendata` (JSONL of {"messages": [...], "kind": ...}); general ones are
derived from Python stdlib docstrings ("what does X do?"). Run: `chipassist adapt sft RECIPE`.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import torch

from adapters.config import Recipe, RecipeError
from adapters.dapt import apply_lora, load_model_and_tokenizer, save_model_atomic
from adapters.data import _STDLIB, chat_example, sft_mix
from corpora.jsonl import read_jsonl, write_jsonl


def general_instructions(limit: int = 2000) -> list[dict]:
    """General chat samples: a stdlib function's name -> the first paragraph of its docstring."""
    import importlib
    out = []
    for name in _STDLIB:
        mod = importlib.import_module(name)
        for attr in sorted(dir(mod)):
            obj = getattr(mod, attr)
            doc = inspect.getdoc(obj) if callable(obj) and not attr.startswith("_") else None
            if doc and len(doc) > 40 and getattr(obj, "__module__", "") == name:
                answer = doc.split("\n\n")[0].replace("\n", " ")
                out.append({"kind": "general", "messages": [
                    {"role": "user", "content": f"In Python's {name} module, what does {attr} do?"},
                    {"role": "assistant", "content": answer}]})
    return out[:limit]


def load_samples(path: Path) -> list[dict]:
    """The SFT rows of ``path`` ({"messages": [{"role", "content"}, ...]} a line, the last one the assistant's);
    RecipeError naming the file and line when it is missing, empty or a row is malformed."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"SFT data {path} not found (run `chipassist adapt gen-data` first)")
    rows = []
    for n, row in read_jsonl(path, RecipeError):
        msgs = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(msgs, list) or not msgs or not all(
                isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str) for m in msgs):
            raise RecipeError(f"{path}:{n}: \"messages\" must be a list of "
                              "{\"role\": system|user|assistant, \"content\": text}")
        if msgs[-1]["role"] != "assistant":
            raise RecipeError(f"{path}:{n}: the last message must be the assistant's (what is learnt)")
        if (any(m.get("weight", 1) not in (0, 1) or ("weight" in m and m["role"] != "assistant") for m in msgs)
                or not msgs[-1].get("weight", 1)):
            raise RecipeError(f"{path}:{n}: \"weight\" (assistant messages only) is 0 (context) or 1, "
                              "and the last message is learnt")
        rows.append(row)
    if not rows:
        raise RecipeError(f"SFT data {path} is empty")
    return rows


def copy_samples(src: Path, dst: Path) -> dict:
    """The gen-data stage for rows written elsewhere: check ``src`` and copy it to ``dst`` atomically."""
    rows = load_samples(src)
    write_jsonl(dst, rows)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r.get("kind", "other")] = kinds.get(r.get("kind", "other"), 0) + 1
    return {"file": str(src), "samples": len(rows), "per_kind": kinds}


def make_collate(pad_id: int):
    """A collate function padding ids with ``pad_id``, labels with -100 (not learnt) and building
    the attention mask."""
    def collate(examples: list[dict]) -> dict:
        n = max(len(e["input_ids"]) for e in examples)
        ids = torch.full((len(examples), n), pad_id)
        labels = torch.full((len(examples), n), -100)
        mask = torch.zeros((len(examples), n), dtype=torch.long)
        for i, e in enumerate(examples):
            ids[i, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
            labels[i, : len(e["labels"])] = torch.tensor(e["labels"])
            mask[i, : len(e["input_ids"])] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
    return collate


def prepare_model(model, cfg, base_vocab: int | None):
    """Full FT, LoRA or QLoRA; rows of added tokens stay trainable under (Q)LoRA."""
    if cfg.method == "full":
        return model
    if cfg.method == "qlora" and not torch.cuda.is_available():
        raise RecipeError("sft.method=qlora needs a CUDA GPU (bitsandbytes 4-bit); use lora or full on CPU")
    return apply_lora(model, cfg.lora, base_vocab)


def load_for_sft(model_dir: Path, recipe: Recipe, dtype: str):
    """The model and tokenizer for SFT, in ``dtype`` (from `train_precision`); 4-bit quantised (bitsandbytes)
    for QLoRA."""
    if recipe.sft.method != "qlora":
        return load_model_and_tokenizer(model_dir, dtype)
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    return AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=q), AutoTokenizer.from_pretrained(
        model_dir)


def run_sft(recipe: Recipe, model_dir: Path, data_path: Path, out_dir: Path, base_vocab: int | None = None,
            log=print) -> dict:
    """Fine-tune on the generated samples mixed with general instructions and save the model atomically;
    returns the stage's report."""
    cfg = recipe.sft
    if cfg.method == "qlora" and not torch.cuda.is_available():
        raise RecipeError("sft.method=qlora needs a CUDA GPU (bitsandbytes 4-bit); use lora or full on CPU")
    domain = load_samples(data_path)
    from adapters.trainer import train, train_precision
    dtype, mixed = train_precision(recipe.model.dtype, cfg.mixed_precision, log)  # QLoRA is on CUDA: as asked
    cfg = cfg.model_copy(update={"mixed_precision": mixed})
    model, tok = load_for_sft(model_dir, recipe, dtype)
    if tok.chat_template is None:
        raise RecipeError(f"{model_dir}: tokenizer has no chat template")
    rows = sft_mix(domain, general_instructions(), cfg.general_ratio, recipe.seed)
    examples = [chat_example(tok, r["messages"], cfg.block_size) for r in rows]
    cut = sum(e["cut"] for e in examples)
    kept = [e for e in examples if any(x != -100 for x in e["labels"])]
    dropped = len(examples) - len(kept)
    if cut:  # the end of a row is its answer: a cut row teaches half a script, or nothing (then it is dropped)
        log(f"sft: {cut} of {len(examples)} rows are longer than sft.block_size={cfg.block_size} tokens and are cut"
            + (f"; {dropped} of them keep no answer token and are dropped" if dropped else ""))
    if not kept:
        raise RecipeError(f"sft.block_size={cfg.block_size}: no row keeps a token of its answer (raise it)")
    examples = kept
    model = prepare_model(model, cfg, base_vocab)
    model, hist = train(model, examples, make_collate(tok.pad_token_id or 0), cfg, out_dir,
                        recipe.fingerprint("sft"), None, log)
    save_model_atomic(model, tok, out_dir / "model")
    k = max(1, len(hist["loss"]) // 5)
    from adapters.dapt import _mean
    return {"samples": len(examples), "domain": len(domain), "cut": cut, "dropped": dropped, "steps": hist["steps"],
            "method": cfg.method, "precision": f"{dtype}/{mixed}",
            "steps_done": hist.get("steps_done"), "train_seconds": hist.get("train_seconds"),
            "tokens_per_s": _mean(hist.get("tokens_per_s")), "losses": hist["loss"],
            "loss_first": round(sum(hist["loss"][:k]) / k, 4), "loss_last": round(sum(hist["loss"][-k:]) / k, 4)}
