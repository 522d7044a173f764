"""Build a tiny Llama base locally: a tokenizer trained on general text and a briefly pretrained model.

No LLM weights can be downloaded here, so the tiny-cpu recipe starts from this base. The general text is the
Python standard library's docstrings (adapters.data.load_general("stdlib")). Tokenizers of three kinds can be
built (SentencePiece-style BPE like Llama 2, byte-level BPE like GPT-2/Llama 3, WordPiece like BERT) so the
augmentation code is exercised on each. Run via `chipassist adapt run adapters/recipes/tiny-cpu.yaml`.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from adapters.config import TinyModel
from adapters.data import pack

# A plain template every tokenizer kind can render; assistant turns end with EOS.
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
                 "{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


def build_tokenizer(texts: list[str], vocab_size: int, kind: str = "spm-bpe") -> PreTrainedTokenizerFast:
    """Train a fast tokenizer of `kind` (spm-bpe | byte-bpe | wordpiece) on `texts`."""
    if kind == "spm-bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="first"),
                                         decoders.ByteFallback()])
        alphabet = [f"<0x{i:02X}>" for i in range(256)]
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS + alphabet)
    elif kind == "byte-bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    elif kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="<unk>"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS)
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}")
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(cfg: TinyModel, vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised Llama with the tiny shape (untied embeddings, like Llama 2)."""
    torch.manual_seed(seed)
    conf = LlamaConfig(vocab_size=vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.hidden_size * 3,
                       num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
                       num_key_value_heads=cfg.num_heads, max_position_embeddings=4096, tie_word_embeddings=False,
                       bos_token_id=1, eos_token_id=2, pad_token_id=3)
    return LlamaForCausalLM(conf)


def pretrain(model, blocks: torch.Tensor, steps: int, lr: float, batch_size: int, seed: int = 0,
             progress=None) -> list[float]:
    """Brief causal-LM pretraining (AdamW, cosine) so the base knows general text before DAPT."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / max(steps, 1))))
    model.train()
    losses = []
    for step in range(steps):
        batch = blocks[torch.randint(len(blocks), (batch_size,), generator=g)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad()
        losses.append(loss.item())
        if progress:
            progress(step, loss.item())
    return losses


def make_tiny_base(out_dir: Path, general: list[str], cfg: TinyModel, seed: int = 0, progress=None) -> dict:
    """Build tokenizer + model, pretrain on `general`, save both to `out_dir`; returns a small report."""
    tok = build_tokenizer(general, cfg.vocab_size, "spm-bpe")
    model = build_model(cfg, len(tok), seed)
    blocks = pack(general, tok, cfg.block_size)
    losses = pretrain(model, blocks, cfg.pretrain_steps, cfg.pretrain_lr, cfg.batch_size, seed, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    n = sum(p.numel() for p in model.parameters())
    return {"params": n, "vocab": len(tok), "general_blocks": len(blocks),
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None}
