"""Import a GGUF checkpoint (e.g. the embedded SmolLM2-135M-Instruct) as an ordinary transformers folder.

transformers loads GGUF files with `gguf_file=` and dequantizes them; we do that once and save model, tokenizer
and chat template as safetensors, so every later stage (tokenizer augmentation, DAPT, SFT) starts from a plain
folder, exactly as it would from real bf16 weights on a GPU cluster. The file is checked before any compute: a
file that is not GGUF, or a GGUF whose architecture transformers cannot load, fails with the file named.
Run: `chipassist adapt import-gguf FILE --out DIR`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from adapters.config import RecipeError

_MAGIC = b"GGUF"
# llama.cpp names some architectures differently from transformers' GGUF loader (see its load_gguf_checkpoint)
_ALIASES = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss", "minimax-m2": "minimax_m2"}


def gguf_architecture(path: Path) -> str:
    """`general.architecture` of a GGUF file; RecipeError for a missing or non-GGUF file."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: GGUF file not found")
    with path.open("rb") as f:
        if f.read(4) != _MAGIC:
            raise RecipeError(f"{path}: not a GGUF file (no GGUF magic bytes; expected a llama.cpp .gguf model)")
    from gguf import GGUFReader
    try:
        field = GGUFReader(str(path)).fields["general.architecture"]
    except (KeyError, ValueError) as e:
        raise RecipeError(f"{path}: unreadable GGUF header ({e})") from e
    return bytes(field.parts[field.data[0]]).decode()


def check_importable(path: Path) -> str:
    """The architecture, or RecipeError when transformers' GGUF loader does not support it."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES
    arch = gguf_architecture(path)
    if arch not in GGUF_SUPPORTED_ARCHITECTURES and _ALIASES.get(arch) not in GGUF_SUPPORTED_ARCHITECTURES:
        raise RecipeError(f"{path}: architecture {arch!r} cannot be loaded by transformers from GGUF "
                          f"(supported: {', '.join(sorted(GGUF_SUPPORTED_ARCHITECTURES))})")
    return arch


def import_gguf(path: Path, out: Path, dtype: str = "float32") -> dict:
    """Dequantize `path` into a safetensors folder at `out` (model, tokenizer, chat template), atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from adapters.dapt import save_model_atomic
    path, out = Path(path).resolve(), Path(out)
    arch = check_importable(path)
    t0 = time.perf_counter()
    kw = {"gguf_file": path.name}
    tok = AutoTokenizer.from_pretrained(path.parent, **kw)
    model = AutoModelForCausalLM.from_pretrained(path.parent, dtype=getattr(torch, dtype), **kw)
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # weights were dequantized on load; only the GGUF marker blocks save_pretrained
        if any(not p.is_floating_point() for p in model.parameters()):
            raise RecipeError(f"{path}: transformers kept the weights quantized; cannot write a trainable folder")
        quantizer.remove_quantization_config(model)
    if tok.chat_template is None:
        raise RecipeError(f"{path}: the GGUF carries no chat template (tokenizer.chat_template); SFT needs one")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.generation_config.pad_token_id = tok.pad_token_id
    save_model_atomic(model, tok, out, extra={"gguf_source.json": json.dumps(
        {"file": str(path), "architecture": arch, "bytes": path.stat().st_size}, indent=1)})
    return {"folder": str(out), "source": str(path), "architecture": arch, "vocab": len(tok),
            "parameters": sum(p.numel() for p in model.parameters()), "seconds": round(time.perf_counter() - t0, 1)}
