"""Fine-tune the retriever's embedding model on generated pairs (sentence-transformers trainer, CPU-friendly).

    chipassist retriever train --pairs pairs.jsonl --out models/retriever-tuned [--loss mnrl|cached|gist]
    chipassist index CORPUS --index DIR --model models/retriever-tuned --rebuild

``train_model`` trains with ``SentenceTransformerTrainer``: an in-batch-negatives contrastive loss (MNRL,
its cached variant, or GISTEmbed guided by the base model) over (query, positive, hard negatives) rows,
no-duplicates batches (a text twice in a batch would be its own false negative), and an
``InformationRetrievalEvaluator`` on the held-out split that picks the best checkpoint. The saved model is
that checkpoint averaged with the base weights (``merge``, WiSE-FT, Wortsman et al. 2022): derived queries
are not worded like engineers' questions, and on ../shared/corpora the plain tuned model traded hit@1 for
hit@5 while the 0.5 average gained on both (bench/README.md).

Everything happens in a temporary folder next to ``out``; only a finished run replaces ``out`` (rename
swap), so an interrupted or failed run leaves the previous model usable. ``max_minutes`` stops a run in
time and still keeps its best checkpoint.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retriever.finetune.config import TrainConfig
from retriever.finetune.gen_pairs import read_pairs

MANIFEST = "chipassist-finetune.json"
CALIBRATION_STEPS = 3  # steps timed before the run is fitted into its time budget
EVAL_NAME = "heldout"


class TrainError(ValueError):
    """Training cannot start (bad pairs file, too few pairs, not a sentence-transformers model)."""


@dataclass
class TrainReport:
    """What one training run did: steps, time, pairs, held-out metrics before and after, and whether
    it merged with the base or stopped early."""
    out: Path
    steps: int = 0
    seconds: float = 0.0
    train_pairs: int = 0
    heldout_pairs: int = 0
    base: dict[str, float] = field(default_factory=dict)  # held-out metrics before training
    best: dict[str, float] = field(default_factory=dict)  # held-out metrics of the best checkpoint
    merged: dict[str, float] = field(default_factory=dict)  # held-out metrics of the saved (merged) model
    stopped_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {"out": str(self.out), "steps": self.steps, "seconds": round(self.seconds, 1),
                "train_pairs": self.train_pairs, "heldout_pairs": self.heldout_pairs, "base": self.base,
                "best": self.best, "merged": self.merged, "stopped_early": self.stopped_early}


def load_model(path: Path | None, max_seq_length: int | None = None):
    """A local sentence-transformers model; TrainError when the folder is not one."""
    from sentence_transformers import SentenceTransformer

    from retriever.embedder import default_model_path

    path = Path(path) if path else default_model_path()
    if not (path / "modules.json").is_file():
        raise TrainError(f"{path} is not a sentence-transformers model folder (no modules.json); give a "
                         f"folder saved by SentenceTransformer.save() or `chipassist retriever train`")
    try:
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as e:  # broken weights / config: name the folder instead of a library traceback
        raise TrainError(f"cannot load the sentence-transformers model at {path}: {type(e).__name__}: {e}") from e
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def build_datasets(pairs_path: Path, config: TrainConfig):
    """(train Dataset with anchor/positive/negative_i columns, held-out rows)."""
    from datasets import Dataset

    rows = list(read_pairs(pairs_path))
    train = [r for r in rows if r.get("split", "train") == "train"]
    heldout = [r for r in rows if r.get("split") == "heldout"]
    if len(train) < config.batch_size:
        raise TrainError(f"{pairs_path}: only {len(train)} training pairs, fewer than one batch "
                         f"(batch_size {config.batch_size}); the corpus is too small to fine-tune on — keep "
                         f"the base model, or lower --batch-size")
    n_neg = min(len(r.get("negatives") or []) for r in train)
    cols: dict[str, list[str]] = {"anchor": [r["query"] for r in train],
                                  "positive": [r["positive"] for r in train]}
    for i in range(n_neg):  # every row needs the same columns: keep as many negatives as all rows have
        cols[f"negative_{i + 1}"] = [r["negatives"][i] for r in train]
    return Dataset.from_dict(cols), heldout


def build_evaluator(heldout: list[dict], pairs_path: Path, config: TrainConfig):
    """IR evaluator: held-out queries against their positives plus every negative text in the file."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    if not heldout:
        return None
    corpus: dict[str, str] = {}
    for r in heldout:
        corpus[r["chunk_id"]] = r["positive"]
    for r in read_pairs(pairs_path):  # distractors: other chunks of the file, up to max_eval_corpus
        if len(corpus) >= config.max_eval_corpus:
            break
        corpus.setdefault(r["chunk_id"], r["positive"])
    queries = {f"q{i}": r["query"] for i, r in enumerate(heldout)}
    relevant = {f"q{i}": {r["chunk_id"]} for i, r in enumerate(heldout)}
    return InformationRetrievalEvaluator(queries, corpus, relevant, name=EVAL_NAME, write_csv=False,
                                         batch_size=64, accuracy_at_k=[1, 5, 10], precision_recall_at_k=[10],
                                         map_at_k=[10])


def build_loss(model, config: TrainConfig):
    """The sentence-transformers loss ``config.loss`` names: in-batch negatives (MNRL), its cached
    variant for large batches, or GIST with the frozen base model filtering false negatives."""
    from sentence_transformers.sentence_transformer import losses

    if config.loss == "cached":
        return losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=config.mini_batch_size)
    if config.loss == "gist":
        guide = load_model(config.base_model, config.max_seq_length)  # the frozen base model filters negatives
        return losses.GISTEmbedLoss(model, guide)
    return losses.MultipleNegativesRankingLoss(model)


def train_model(pairs_path: Path, out: Path, config: TrainConfig | None = None, *, progress: bool = True
                ) -> TrainReport:
    """Train on ``pairs_path`` and save the best checkpoint to ``out`` (atomically); see the module doc."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    from transformers import TrainerCallback

    config = config or TrainConfig()
    out = Path(out)
    start = time.monotonic()  # ``max_minutes`` covers the whole call: loading, evaluations, saving
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    train_ds, heldout = build_datasets(Path(pairs_path), config)
    model = load_model(config.base_model)
    window = model.max_seq_length  # the saved model embeds with the base's window, as the index expects
    model.max_seq_length = config.max_seq_length  # shorter inputs while training: speed on CPU
    evaluator = build_evaluator(heldout, Path(pairs_path), config)
    report = TrainReport(out=out, train_pairs=len(train_ds), heldout_pairs=len(heldout))
    metric = f"eval_{EVAL_NAME}_cosine_ndcg@10"
    eval_s = 0.0
    if evaluator is not None:
        t = time.monotonic()
        report.base = _metrics(evaluator(model))
        eval_s = time.monotonic() - t

    steps_per_epoch = max(1, len(train_ds) // config.batch_size)
    total = config.max_steps if config.max_steps > 0 else max(1, round(steps_per_epoch * config.epochs))
    every = config.eval_every or max(1, total // 3)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.training-{os.getpid()}"
    reserve = 2 * eval_s + 20  # the last evaluation, loading the best checkpoint and saving it

    budget = config.max_minutes * 60
    warmup = int(config.warmup_ratio * total)
    evals_left = total // every

    class TimeBudget(TrainerCallback):
        """Fit the run into ``max_minutes``: after a few steps (and every 10 steps after, as the load of a
        shared machine changes), shorten the planned run and its linear learning-rate decay to the steps that
        fit; stop at the latest when the time is spent, evaluating and saving first so the best checkpoint
        counts."""

        def __init__(self) -> None:
            self.plan = total
            self.began = start

        def on_train_begin(self, args, state, control, **kw):
            self.began = time.monotonic()

        def on_step_end(self, args, state, control, lr_scheduler=None, **kw):
            step, now = state.global_step, time.monotonic()
            calibrate = step == min(CALIBRATION_STEPS, total - 1) or (step > CALIBRATION_STEPS and step % 10 == 0)
            if calibrate and lr_scheduler is not None and step < self.plan:  # the machine's load may change
                per_step = (now - self.began) / step
                left = budget - (now - start) - reserve - evals_left * eval_s
                fit = max(step + 1, step + int(left / per_step))
                if fit < self.plan:
                    self.plan = fit
                    lr_scheduler.lr_lambdas = [_linear_schedule(warmup, fit)] * len(lr_scheduler.lr_lambdas)
                    report.stopped_early = True
                    if progress:
                        print(f"\ntime budget {config.max_minutes:g} min at {per_step:.1f} s/step: training "
                              f"{fit} of {total} planned steps (learning-rate decay re-planned)", file=sys.stderr)
            late = now - start + reserve > budget
            if step < total and (step >= self.plan or late):
                report.stopped_early = True
                control.should_training_stop = True
                control.should_evaluate = evaluator is not None
                control.should_save = True
            return control

    args = SentenceTransformerTrainingArguments(
        output_dir=str(work / "checkpoints"), num_train_epochs=config.epochs, max_steps=total,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate, warmup_steps=warmup, seed=config.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES, use_cpu=True, dataloader_num_workers=0,
        eval_strategy="steps" if evaluator else "no", eval_steps=every, save_strategy="steps",
        save_steps=every, save_total_limit=2, load_best_model_at_end=evaluator is not None,
        metric_for_best_model=metric if evaluator else None, greater_is_better=True, logging_steps=every,
        report_to="none", disable_tqdm=not progress, save_only_model=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_ds,
                                         loss=build_loss(model, config), evaluator=evaluator,
                                         callbacks=[TimeBudget()])
    try:
        trainer.train()
        report.steps = trainer.state.global_step
        report.seconds = time.monotonic() - start
        if evaluator is not None:
            report.best = _best_metrics(trainer.state) or _metrics(evaluator(model))
        if config.merge < 1.0:
            merge_into(model, load_model(config.base_model), config.merge)
            if evaluator is not None:
                report.merged = _metrics(evaluator(model))
        final = work / "final"
        model.max_seq_length = window
        model.save(str(final))
        (final / MANIFEST).write_text(json.dumps({"config": config.model_dump(mode="json"),
                                                  "pairs": str(pairs_path), "report": report.to_dict()},
                                                 indent=2))
        publish(final, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # an interrupted run leaves only `out` as it was
    return report


def merge_into(model, base, weight: float) -> None:
    """``model``'s weights <- ``weight`` * tuned + (1 - weight) * base (floating-point tensors only)."""
    import torch

    base_state, seen = base.state_dict(), set()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and name in base_state and tensor.data_ptr() not in seen:
                seen.add(tensor.data_ptr())  # a tied weight is listed under two names: merge it once
                tensor.mul_(weight).add_(base_state[name].to(tensor.dtype), alpha=1.0 - weight)


def publish(folder: Path, out: Path) -> None:
    """Move a finished model folder to ``out``: rename swap, so ``out`` is always a whole model."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(folder, out)
    except OSError:
        if old.exists():
            os.replace(old, out)  # put the previous model back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _linear_schedule(warmup: int, total: int):
    """Linear warm-up then linear decay to 0 at ``total`` (the trainer's default schedule, re-planned)."""
    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


def _best_metrics(state) -> dict[str, float]:
    """The held-out metrics the trainer logged for the checkpoint it kept (no second evaluation)."""
    best = state.best_model_checkpoint
    step = int(best.rsplit("-", 1)[1]) if best else state.global_step
    for entry in reversed(state.log_history):
        if entry.get("step") == step and any(k.startswith(f"eval_{EVAL_NAME}_") for k in entry):
            return _metrics(entry) | {"step": step}
    return {}


def _metrics(result: dict[str, float]) -> dict[str, float]:
    """The evaluator's cosine metrics under short names (hit@1, hit@5, hit@10, mrr@10, ndcg@10)."""
    short = {"accuracy@1": "hit@1", "accuracy@5": "hit@5", "accuracy@10": "hit@10", "mrr@10": "mrr@10",
             "ndcg@10": "ndcg@10"}
    out = {}
    for key, value in result.items():
        for long, name in short.items():
            if key.endswith(f"cosine_{long}"):
                out[name] = round(float(value), 4)
    return out
