"""The training loop shared by DAPT and SFT: accelerate for devices/FSDP/DeepSpeed, atomic checkpoints, resume,
and logs of loss, tokens/s, MFU and held-out perplexity.

We use a plain loop over `accelerate.Accelerator` rather than HF Trainer: the same code runs on 2 CPU cores and
under `accelerate launch` with FSDP or ZeRO-3, and checkpoints/resume checks stay ours (config fingerprint,
tmp-dir + os.replace), which Trainer does not offer. Called by adapters.dapt and adapters.sft.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from adapters.config import RecipeError, TrainSection


def measured_peak_flops(device: str = "cpu", dtype=torch.float32, n: int = 1024) -> float:
    """FLOP/s of a dense matmul on this machine: the MFU denominator (CPU has no spec-sheet peak)."""
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    a @ b
    reps, t = 5, time.perf_counter()
    for _ in range(reps):
        a @ b
    if device != "cpu":
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def train_precision(dtype: str, mixed_precision: str, log: Callable[[dict], None] = print,
                    half_slower: float = 0.5) -> tuple[str, str]:
    """The (model dtype, mixed precision) to train in on this machine: as the recipe asks, except on a CPU whose
    16-bit matmul runs at under ``half_slower`` of its float32 rate. A CPU without AVX512-BF16 or AMX makes
    PyTorch fall back to a scalar GEMM: 0.8 against 67 GFLOP/s on a 2-core AVX2 EPYC, where the recipe's
    2-hour bf16 SFT would have taken days. There both become float32 (twice the memory, and said so in the log
    and the stage's report); a GPU keeps what was asked."""
    halves = {"bfloat16": torch.bfloat16, "float16": torch.float16, "bf16": torch.bfloat16, "fp16": torch.float16}
    half = halves.get(dtype) or halves.get(mixed_precision)
    if half is None or torch.cuda.is_available():
        return dtype, mixed_precision
    rate, full = measured_peak_flops("cpu", half, 256), measured_peak_flops("cpu", torch.float32, 256)
    if rate >= half_slower * full:
        return dtype, mixed_precision
    log({"event": "precision", "model_dtype": "float32", "mixed_precision": "no",
         "reason": f"{half} matmul here runs at {rate / 1e9:.1f} GFLOP/s against {full / 1e9:.1f} for float32 "
                   f"(no native 16-bit support in this CPU): training in float32 instead of {dtype}/{mixed_precision}"})
    return "float32", "no"


def flops_per_token(model, seq_len: int) -> float:
    """6N for the weights plus the attention matmuls (12 * layers * hidden * seq)."""
    c = model.config
    n = sum(p.numel() for p in model.parameters() if p.requires_grad) or 1
    n_all = sum(p.numel() for p in model.parameters())
    # frozen weights (LoRA) still cost forward + input-grad backward: 4 per weight instead of 6
    return 6 * n + 4 * (n_all - n) + 12 * c.num_hidden_layers * c.hidden_size * seq_len


@torch.no_grad()
def perplexity(model, batches: list[dict]) -> float:
    """exp(mean token loss) over held-out batches."""
    model.eval()
    total, count = 0.0, 0
    dev = next(model.parameters()).device
    for b in batches:
        b = {k: v.to(dev) for k, v in b.items()}
        out = model(**b)
        n = int((b["labels"][:, 1:] != -100).sum())
        total += out.loss.item() * n
        count += n
    model.train()
    return math.exp(total / max(count, 1))


def _save(acc: Accelerator, model, opt, ckpt_root: Path, step: int, fingerprint: str, losses: list[float],
          train_seconds: float = 0.0, evals: dict | None = None):
    """Write a checkpoint to a tmp dir, os.replace it into place, then repoint `latest` atomically."""
    final = ckpt_root / f"step-{step:07d}"
    tmp = ckpt_root / f".tmp-step-{step:07d}"
    shutil.rmtree(tmp, ignore_errors=True)
    acc.save_state(str(tmp))
    (tmp / "meta.json").write_text(json.dumps({"step": step, "fingerprint": fingerprint, "losses": losses,
                                                    "train_seconds": round(train_seconds, 2),
                                                    "eval": evals or {}}))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    ptr = ckpt_root / ".latest.tmp"
    ptr.write_text(final.name)
    os.replace(ptr, ckpt_root / "latest")
    for old in ckpt_root.glob("step-*"):  # keep only the newest one
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    """The checkpoint the ``latest`` pointer names, or None: where a resumed run continues."""
    p = ckpt_root / "latest"
    return ckpt_root / p.read_text().strip() if p.exists() else None


def check_resume(ckpt_root: Path, fingerprint: str) -> dict | None:
    """Meta of the checkpoint to resume from, or an error before any compute if its config differs."""
    ck = latest_checkpoint(ckpt_root)
    if ck is None:
        return None
    meta = json.loads((ck / "meta.json").read_text())
    if meta["fingerprint"] != fingerprint:
        raise RecipeError(f"{ck}: checkpoint was made with a different recipe (fingerprint {meta['fingerprint']} "
                          f"!= {fingerprint}); use a new output_dir or restore the recipe")
    return meta


def _forget_other_precision(mixed_precision: str) -> None:
    """Drop accelerate's process-wide state when an earlier stage in this process set another mixed precision
    (accelerate refuses to change it; the process group, PartialState, is kept)."""
    from accelerate.state import AcceleratorState
    if AcceleratorState._shared_state and AcceleratorState().mixed_precision != mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=False)


def train(model, blocks_or_examples, collate: Callable, cfg: TrainSection, out_dir: Path, fingerprint: str,
          evals: dict[str, list] | None = None, log: Callable[[dict], None] = print, stop_after: int | None = None):
    """Train `model` for one pass (or cfg.max_steps) over the data; returns (model, history dict).

    `stop_after` ends the run after that many optimizer steps (used by tests to simulate an interruption).
    """
    _forget_other_precision(cfg.mixed_precision)
    acc = Accelerator(gradient_accumulation_steps=cfg.global_batch_size // cfg.micro_batch_size, cpu=not
                      torch.cuda.is_available(), mixed_precision=cfg.mixed_precision)
    n = len(blocks_or_examples)
    micro_per_epoch = math.ceil(n / cfg.micro_batch_size)
    total_steps = cfg.max_steps or max(1, math.ceil(micro_per_epoch * cfg.epochs * cfg.micro_batch_size
                                                    / cfg.global_batch_size))
    ckpt_root = out_dir / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    meta = check_resume(ckpt_root, fingerprint)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                            lr=cfg.lr, betas=cfg.betas)
    model, opt = acc.prepare(model, opt)
    start, losses, spent = 0, [], 0.0
    if meta:
        acc.load_state(str(latest_checkpoint(ckpt_root)))
        start, losses, spent = meta["step"], meta["losses"], meta.get("train_seconds", 0.0)
        log({"event": "resumed", "step": start})

    def lr_at(step):
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        cos = 0.5 * (1 + math.cos(math.pi * step / total_steps)) if cfg.scheduler == "cosine" else 1.0
        return cfg.lr * warm * cos

    history = {"steps": total_steps, "loss": losses, "eval": dict(meta.get("eval", {})) if meta else {},
               "tokens_per_s": []}
    if start == 0 and evals:
        history["eval"]["before"] = {k: round(perplexity(model, v), 3) for k, v in evals.items()}
        log({"event": "eval", "step": 0, **history["eval"]["before"]})
    first = blocks_or_examples[0]
    seq = len(first["input_ids"]) if isinstance(first, dict) else first.shape[-1]
    peak = measured_peak_flops("cuda" if torch.cuda.is_available() else "cpu",
                               {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.mixed_precision, torch.float32))
    fpt = flops_per_token(acc.unwrap_model(model), seq)
    g = torch.Generator().manual_seed(1234)
    reps = math.ceil(total_steps * cfg.global_batch_size / n) + 1  # epochs' worth of shuffled indices
    order = torch.cat([torch.randperm(n, generator=g) for _ in range(reps)])
    micro = cfg.global_batch_size // cfg.micro_batch_size
    model.train()
    budget = cfg.time_budget_min * 60 if cfg.time_budget_min else None
    bar = tqdm(total=total_steps, initial=start, desc="train", unit="step", dynamic_ncols=True, mininterval=5)
    done, last_dt = start, 0.0
    for step in range(start, total_steps):
        if budget is not None and spent + last_dt > budget:
            # the next step would overrun the stage's time budget: stop here (checkpointed below)
            history["stopped_by_budget"] = True
            log({"event": "time_budget", "step": step, "train_seconds": round(spent, 1)})
            break
        t0, tokens, step_loss = time.perf_counter(), 0, 0.0
        for k in range(micro):
            i = (step * micro + k) * cfg.micro_batch_size
            idx = order[i % len(order): i % len(order) + cfg.micro_batch_size]
            batch = {kk: v.to(acc.device) for kk, v in collate([blocks_or_examples[j] for j in idx]).items()}
            with acc.accumulate(model):
                loss = model(**batch).loss
                acc.backward(loss)
                if acc.sync_gradients:
                    acc.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                for group in opt.param_groups:
                    group["lr"] = lr_at(step)
                opt.step()
                opt.zero_grad()
            tokens += int(batch["input_ids"].numel())
            step_loss += loss.item() / micro
        dt = time.perf_counter() - t0
        spent, last_dt = spent + dt, dt
        losses.append(round(step_loss, 4))
        history["tokens_per_s"].append(round(tokens / dt, 1))
        bar.update(1)
        bar.set_postfix(loss=round(step_loss, 3), tok_s=round(tokens / dt))
        log({"event": "step", "step": step + 1, "loss": round(step_loss, 4), "tokens_per_s": round(tokens / dt, 1),
             "mfu": round(fpt * tokens / dt / peak, 4), "lr": lr_at(step)})
        done = step + 1
        if evals and (done % cfg.eval_every == 0 or done == total_steps):
            ppl = {k: round(perplexity(model, v), 3) for k, v in evals.items()}
            history["eval"][f"step{done}"] = ppl
            log({"event": "eval", "step": done, **ppl})
        if done % cfg.checkpoint_every == 0 or done == total_steps:
            _save(acc, model, opt, ckpt_root, done, fingerprint, losses, spent, history["eval"])
        if stop_after and done >= stop_after:
            break
    bar.close()
    history["steps_done"], history["train_seconds"] = done, round(spent, 1)
    if history.get("stopped_by_budget"):
        if evals and f"step{done}" not in history["eval"]:
            history["eval"][f"step{done}"] = {k: round(perplexity(model, v), 3) for k, v in evals.items()}
        _save(acc, model, opt, ckpt_root, done, fingerprint, losses, spent + last_dt + 1,  # resume: budget spent
              history["eval"])
    if evals:
        last = [v for k, v in history["eval"].items() if k != "before"]
        history["eval"]["after"] = last[-1] if last else history["eval"].get("before")
    return acc.unwrap_model(model), history


def model_parameters(source: Path) -> int:
    """Parameter count of a model folder (built on the meta device from config.json) or of a GGUF file (its
    tensors' element counts), without loading any weights."""
    source = Path(source)
    if source.suffix == ".gguf":
        from gguf import GGUFReader
        return int(sum(int(t.n_elements) for t in GGUFReader(str(source)).tensors))
    from transformers import AutoConfig, AutoModelForCausalLM
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(source))
    return sum(p.numel() for p in model.parameters())


def check_step_fits(cfg: TrainSection, n_params: int, section: str, device: str = "cpu") -> float:
    """Lower bound on one optimizer step's seconds (6 FLOPs per parameter per token at 4x this machine's measured
    matmul rate: the short measurement is noisy on a shared machine, and a false refusal costs more than a late
    stop); RecipeError before any training when even that exceeds `cfg.time_budget_min`."""
    tokens = cfg.global_batch_size * cfg.block_size
    seconds = 6 * n_params * tokens / (4 * measured_peak_flops(device))
    if cfg.time_budget_min is not None and seconds > cfg.time_budget_min * 60:
        raise RecipeError(f"{section}.time_budget_min={cfg.time_budget_min}: one step ({tokens} tokens of a "
                          f"{n_params / 1e6:.0f}M-parameter model) needs at least {seconds / 60:.1f} min here; "
                          f"raise the budget or lower {section}.global_batch_size / {section}.block_size")
    return seconds
