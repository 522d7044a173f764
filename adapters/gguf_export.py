"""Export an adapted Llama- or Qwen2-architecture model back to GGUF, so the assistant's `llamacpp` backend (the one
the embedded model uses) serves it. Metadata (hyperparameters, BPE merges, chat template, special-token ids) is
copied from the GGUF the base was imported from; the token list is the base GGUF's, with the adapted
tokenizer's added domain tokens (marked user-defined) in the padding slots after its last id, then unused rows;
weights are written as F16 (norms and biases F32) under llama.cpp's tensor names (gguf's own HF -> GGUF name
map), with Llama's Q/K rows permuted back as llama.cpp's converter does (Qwen2's rotary layout needs none).
`quantize` then writes a llama.cpp quantization of it (Q4_K_M: the embedded model's own, so the adapted model
decodes as fast as the base).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from adapters.config import RecipeError

_SKIP = {"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores", "general.file_type",
         "general.quantization_version", "llama.vocab_size", "qwen2.vocab_size"}
_ARCHS = ("llama", "qwen2")  # GGUF architectures whose tensors gguf's name map and this writer cover
QUANTS = {"Q4_K_M": 15, "Q8_0": 7}  # llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers


def _permute(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """HF's rotary layout -> llama.cpp's (the inverse of what transformers undoes when it reads a GGUF)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _copy_metadata(reader, writer) -> None:
    from gguf import GGUFValueType
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in _SKIP or name == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), vtype, sub_type=sub)


def token_list(base_tokens: list[str], base_types: list[int], tok, rows: int) -> tuple[list[str], list[int], int]:
    """GGUF tokens and types for an embedding of ``rows`` rows, and how many are the adapted tokenizer's added ones.

    The base GGUF's own entries are kept, except its unused padding slots (Qwen2's list runs to 151,936 while its
    tokenizer knows 151,665 ids): an added domain token takes the id after the tokenizer's last, inside that
    padding, and must be written under its own text. Added tokens are plain text, matched before BPE."""
    from gguf import TokenType
    tokens, types, added = [], [], 0
    for i in range(rows):
        if i < len(base_tokens) and not (base_types[i] == TokenType.UNUSED and i < len(tok)
                                         and tok.convert_ids_to_tokens(i) != base_tokens[i]):
            tokens.append(base_tokens[i])
            types.append(base_types[i])
        elif i < len(tok):
            tokens.append(tok.convert_ids_to_tokens(i))
            types.append(TokenType.USER_DEFINED)
            added += 1
        else:
            tokens.append(f"[PAD{i}]")
            types.append(TokenType.UNUSED)
    return tokens, types, added


def export_gguf(model_dir: Path, source_gguf: Path, out: Path) -> dict:
    """Write `model_dir` (a plain transformers Llama or Qwen2 folder) as an F16 GGUF at `out`, atomically."""
    from gguf import GGUFReader, GGUFWriter, MODEL_ARCH, get_tensor_name_map
    from transformers import AutoModelForCausalLM, AutoTokenizer
    reader = GGUFReader(str(source_gguf))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    if arch not in _ARCHS:
        raise RecipeError(f"{source_gguf}: GGUF export is written for the llama and qwen2 architectures, not "
                          f"{arch!r}; serve with the `local` backend instead (serve.backend: local)")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(model_dir)
    c = model.config
    rows = model.get_input_embeddings().weight.shape[0]
    tokens, types, added = token_list(reader.fields["tokenizer.ggml.tokens"].contents(),
                                      reader.fields["tokenizer.ggml.token_type"].contents(), tok, rows)
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    w = GGUFWriter(str(tmp), arch)
    _copy_metadata(reader, w)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_file_type(1)  # mostly F16
    names = get_tensor_name_map(MODEL_ARCH.LLAMA if arch == "llama" else MODEL_ARCH.QWEN2, c.num_hidden_layers)
    tied = getattr(c, "tie_word_embeddings", False)
    for name, t in model.state_dict().items():
        if tied and name == "lm_head.weight":
            continue
        gname = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gname is None:
            raise RecipeError(f"{model_dir}: no GGUF name for tensor {name}")
        if arch == "llama" and name.endswith("q_proj.weight"):
            t = _permute(t, c.num_attention_heads)
        elif arch == "llama" and name.endswith("k_proj.weight"):
            t = _permute(t, c.num_key_value_heads)
        arr = t.detach().numpy()
        w.add_tensor(gname, arr.astype(np.float16 if arr.ndim == 2 else np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, out)
    return {"gguf": str(out), "bytes": out.stat().st_size, "tokens": len(tokens), "added": added}


def quantize(src: Path, out: Path, kind: str = "Q4_K_M", threads: int = 0) -> dict:
    """Write a llama.cpp ``kind`` quantization of the GGUF ``src`` at ``out``, atomically (llama.cpp's own
    quantizer, through llama-cpp-python)."""
    if kind not in QUANTS:
        raise RecipeError(f"export.quantize: {kind!r} is not one of {', '.join(QUANTS)}")
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[kind]
    params.nthread = threads
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    if llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params) != 0:
        tmp.unlink(missing_ok=True)
        raise RecipeError(f"{src}: llama.cpp could not quantize it to {kind}")
    os.replace(tmp, out)
    return {"gguf": str(out), "bytes": out.stat().st_size, "type": kind}
