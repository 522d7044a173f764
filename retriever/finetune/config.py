"""Typed settings for retriever fine-tuning: pair generation (``PairsConfig``) and training (``TrainConfig``).

Both reject impossible values naming the field (pydantic); the CLI builds them from its options, and
``train`` saves the ``TrainConfig`` it used next to the model (``chipassist-finetune.json``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from corpora.llm_client import API_KEY_ENV, TIMEOUT_S

Loss = Literal["mnrl", "cached", "gist"]


class PairsConfig(BaseModel):
    """How ``gen_pairs.generate_pairs`` samples chunks, writes queries and mines hard negatives.

    Args:
        max_pairs: total (query, chunk) pairs; ChipNeMo used about 3,000 generated samples.
        queries_per_chunk: at most this many queries per sampled chunk (derived or LLM-written).
        heldout_fraction: share of source documents whose pairs go to the held-out split (never trained on).
        num_negatives: hard negatives kept per pair after false-negative filtering.
        mine_depth: how many nearest chunks (by the index's own model) are candidates for negatives.
        relative_margin: a candidate scoring above ``(1 - relative_margin) * positive score`` is taken for a
            false negative (as in ``sentence_transformers.util.mine_hard_negatives``).
        near_duplicate: word-shingle Jaccard similarity above which a candidate is the positive's duplicate.
        backend: ``derived`` (queries from structure) or ``openai`` (an OpenAI-compatible LLM server).
        base_url / llm_model / api_key_env / timeout_s: that server (``corpora.llm_client``, the same defaults
            as the assistant and gen-data: key from ``$OPENAI_API_KEY``, the first listed model, 120 s).
        groups: ACL groups whose chunks may become training text (positives and negatives); None: public
            chunks only, as adaptation's ``data.acl_groups`` (``corpora.types.visible``).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    max_pairs: int = Field(3000, ge=1)
    queries_per_chunk: int = Field(3, ge=1, le=20)
    min_chunk_chars: int = Field(60, ge=1)
    heldout_fraction: float = Field(0.1, ge=0.0, lt=0.9)
    num_negatives: int = Field(1, ge=0, le=16)
    mine_depth: int = Field(30, ge=2, le=500)
    relative_margin: float = Field(0.05, ge=0.0, lt=1.0)
    near_duplicate: float = Field(0.8, gt=0.0, le=1.0)
    seed: int = 13
    backend: Literal["derived", "openai"] = "derived"
    base_url: str | None = None
    llm_model: str | None = None
    api_key_env: str = API_KEY_ENV
    timeout_s: float = Field(TIMEOUT_S, gt=0)
    groups: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> "PairsConfig":
        if self.backend == "openai" and not self.base_url:
            raise ValueError("base_url is required when backend is openai")
        return self


class TrainConfig(BaseModel):
    """How ``train.train_model`` fine-tunes a sentence-transformers model.

    Defaults fit the whole ../shared/corpora (3,000 pairs) in under 20 minutes on 2 CPU cores: MiniLM-L6,
    batch 32, max_seq_length 128, 1 hard negative per pair, 1 epoch, capped by ``max_minutes``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base_model: Path | None = None  # default: all-MiniLM-L6-v2 (retriever.embedder.default_model_path)
    loss: Loss = "mnrl"
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, ge=-1)  # -1: epochs decide
    batch_size: int = Field(32, ge=2, le=4096)
    mini_batch_size: int = Field(16, ge=1)  # cached loss only
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    max_seq_length: int = Field(128, ge=8, le=8192)  # training inputs only; the saved model keeps the base window
    eval_every: int = Field(0, ge=0)  # steps between evaluations; 0: three times per run
    merge: float = Field(0.5, gt=0.0, le=1.0)  # weight of the tuned model averaged with the base (1: no merge)
    max_minutes: float = Field(18.0, gt=0)  # whole run; stops (keeping the best checkpoint) in time
    max_eval_corpus: int = Field(1000, ge=10)
    seed: int = 13
    threads: int | None = Field(None, ge=1)
