"""Typed recipe schema for the adaptation pipeline (YAML -> pydantic), with dotted command-line overrides.

A recipe is one YAML file (see adapters/recipes/); `load_recipe(path, overrides=["dapt.lr=1e-4"])` returns a
validated `Recipe`. Unknown keys and impossible values fail on load with the field named (extra="forbid").
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from corpora.config_io import ConfigError, read_yaml_mapping, validate_model
from corpora.llm_client import API_KEY_ENV, TIMEOUT_S


class RecipeError(ConfigError):
    """A recipe (or an input it names) is unusable; the message names the file or field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TinyModel(_Strict):
    """A tiny Llama built locally and briefly pretrained on general text (no weights exist here)."""
    hidden_size: int = Field(64, ge=8)
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(4, ge=1)
    vocab_size: int = Field(2048, ge=256)
    pretrain_steps: int = Field(200, ge=0)
    pretrain_lr: float = Field(3e-3, gt=0)
    block_size: int = Field(128, ge=16)
    batch_size: int = Field(8, ge=1)

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.hidden_size % self.num_heads:
            raise ValueError("model.tiny.hidden_size must be a multiple of model.tiny.num_heads")
        return self


class ModelSection(_Strict):
    """The model to adapt: a local Hugging Face folder, a tiny one built here, or an architecture-only
    config for dry runs."""
    base: Path | None = None  # local HF folder (model + tokenizer); None with `tiny` set builds one
    gguf: Path | None = None  # a GGUF file imported once into output_dir/base (adapters.gguf_import)
    tiny: TinyModel | None = None
    config_json: Path | None = None  # architecture-only config for dry runs (adapters/model_configs/)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    gradient_checkpointing: bool = False

    @model_validator(mode="after")
    def _one_source(self):
        if self.base is None and self.tiny is None and self.config_json is None and self.gguf is None:
            raise ValueError("model: set one of model.base, model.gguf, model.tiny or model.config_json")
        return self


class DataSection(_Strict):
    """Where domain and general text come from, the held-out share, and the ACL groups whose documents
    may be trained on."""
    domain_roots: list[Path] = Field(default_factory=lambda: [Path("corpora/sample")])
    general: str = "stdlib"  # "stdlib" (Python stdlib docstrings) or a path to a text file / folder
    heldout_fraction: float = Field(0.1, gt=0, lt=0.5)
    max_general_chars: int = Field(400_000, ge=1000)
    # Documents visible to these ACL groups are trained on (public ones always). A model repeats what it was
    # trained on to anyone who can query it, so restricted documents stay out unless their group is listed here.
    acl_groups: list[str] = Field(default_factory=lambda: ["public"])
    # ChipNeMo's blend: the share of each kind's documents kept (docs upsampled, RTL downsampled); unlisted kinds 1.0
    kind_weights: dict[str, float] = Field(default_factory=dict)
    max_domain_chars: int | None = Field(None, ge=1000)  # cap on the domain text (after weighting), for CPU runs
    fallback_roots: list[Path] = Field(default_factory=list)  # used when a domain root is absent (no shared corpus)

    def roots(self) -> list[Path]:
        """`domain_roots`, or `fallback_roots` when some domain root does not exist and fallbacks are given."""
        if self.fallback_roots and not all(Path(r).exists() for r in self.domain_roots):
            return list(self.fallback_roots)
        return list(self.domain_roots)


class TokenizerSection(_Strict):
    """Tokenizer augmentation: train a domain vocabulary and add the tokens it covers well."""
    enabled: bool = True
    train_vocab_size: int = Field(4000, ge=300)
    min_frequency: int = Field(5, ge=1)
    coverage: float = Field(0.98, gt=0, le=1)
    max_new_tokens: int = Field(9000, ge=1)
    pad_to_multiple_of: int = Field(64, ge=1)
    general_check_chars: int = Field(200_000, ge=1000)
    extra_tokens: list[str] = Field(default_factory=list)  # hand-picked domain terms, added before trained ones


class LoraSection(_Strict):
    """LoRA rank, scale, dropout and the projections it wraps."""
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class TrainSection(_Strict):
    """One training stage (DAPT or SFT): method, optimiser, schedule, batch sizes, data mix and checkpoints."""
    method: Literal["full", "lora", "qlora"] = "full"
    lr: float = Field(5e-6, gt=0)
    scheduler: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = Field(0.01, ge=0)
    block_size: int = Field(4096, ge=16)
    micro_batch_size: int = Field(1, ge=1)
    global_batch_size: int = Field(256, ge=1)
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1)
    general_ratio: float = Field(0.09, ge=0, lt=1)
    lora: LoraSection = Field(default_factory=LoraSection)
    checkpoint_every: int = Field(500, ge=1)
    eval_every: int = Field(500, ge=1)
    eval_blocks: int = Field(64, ge=1)
    max_grad_norm: float = Field(1.0, gt=0)
    time_budget_min: float | None = Field(None, gt=0)  # stop (and checkpoint) when the next step would not fit
    # bf16 autocast over fp32 master weights (ChipNeMo trained in bf16). On a CPU with AVX512_BF16 it measured
    # 1.8x the tokens/s of fp32 for SmolLM2-135M LoRA; "no" keeps fp32 (CPUs without bf16 kernels run it slower)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"

    @model_validator(mode="after")
    def _batches(self):
        if self.global_batch_size % self.micro_batch_size:
            raise ValueError("global_batch_size must be a multiple of micro_batch_size")
        if not 0 <= self.betas[0] < 1 or not 0 <= self.betas[1] < 1:
            raise ValueError("betas must lie in [0, 1)")
        return self


class TeacherSection(_Strict):
    """An OpenAI-compatible server (vLLM, TGI, OpenAI, ...) that writes samples from corpus chunks."""
    base_url: str  # e.g. http://127.0.0.1:8000/v1
    model: str
    api_key_env: str = API_KEY_ENV  # unset: "EMPTY" (local servers without --api-key); corpora.llm_client
    max_chunks: int = Field(200, ge=1)  # requests in all, shared round-robin by qa / tcl / bugs
    samples_per_chunk: int = Field(3, ge=1, le=20)
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(1024, ge=16)
    timeout_s: float = Field(TIMEOUT_S, gt=0)
    concurrency: int = Field(4, ge=1, le=64)

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
        return v.rstrip("/")


class GenDataSection(_Strict):
    """SFT data generation: a teacher LLM or document structure, then the filters and dedup thresholds."""
    teacher: TeacherSection | None = None  # None: derive samples from document structure
    max_per_kind: int = Field(2000, ge=1)
    min_answer_chars: int = Field(20, ge=1)
    max_answer_chars: int = Field(4000, ge=1)
    max_question_chars: int = Field(4000, ge=1)
    min_overlap: float = Field(0.1, ge=0, le=1)  # share of an answer's content words found in its source chunk
    near_dup_threshold: float = Field(0.9, gt=0.5, le=1)  # question word-set Jaccard (same identifiers) = duplicate
    autoeval_mc: bool = True  # also write gendata/autoeval_mc.jsonl (multiple choice from tables and bugs)
    # chat rows written elsewhere ({"messages": [...]} a line, e.g. `chipassist tcl sft-data`): checked and used
    # as the SFT data instead of generating any
    file: Path | None = None

    @model_validator(mode="after")
    def _lengths(self):
        if self.min_answer_chars >= self.max_answer_chars:
            raise ValueError("gendata.min_answer_chars must be less than gendata.max_answer_chars")
        return self


class AutoEvalSection(_Strict):
    """AutoEval: multiple-choice files, few-shot count and held-out perplexity blocks."""
    mc_files: list[Path] = Field(default_factory=list)
    optional_mc_files: list[Path] = Field(default_factory=list)  # used when present (e.g. bench/data sets)
    shots: int = Field(5, ge=0)
    max_heldout_blocks: int = Field(64, ge=1)
    max_questions: int | None = Field(None, ge=1)  # per file, spread evenly over it (slow machines)
    heldout_chunks: int = Field(48, ge=1)  # held-out domain/general chunks for base-token-normalised perplexity
    chunk_chars: int = Field(1500, ge=100)
    # forward passes under bf16 autocast (weights stay fp32): every model of a run is scored the same way
    mixed_precision: Literal["no", "bf16"] = "no"


class ServeSection(_Strict):
    """Answer one question with the exported model through the assistant's own LLM backend."""
    backend: Literal["local", "llamacpp"] = "local"
    question: str = "What does the OpenROAD command initialize_floorplan do?"
    max_tokens: int = Field(64, ge=1)


class ExportSection(_Strict):
    """The served model's dtype and tensor parallelism (the `vllm serve` command the export prints)."""
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    tensor_parallel_size: int = Field(1, ge=1)
    gguf: bool = False  # also write export/model.gguf (F16) for the llamacpp backend; needs model.gguf (metadata)
    # and a llama.cpp quantization of it, export/model.<TYPE>.gguf, which the serve stage then uses
    quantize: Literal["Q4_K_M", "Q8_0"] | None = None

    @model_validator(mode="after")
    def _quantize_needs_gguf(self):
        if self.quantize and not self.gguf:
            raise ValueError("export.quantize needs export.gguf: true (it quantizes the exported GGUF)")
        return self


class DistributedSection(_Strict):
    """Multi-GPU training (FSDP or DeepSpeed) and the cluster it is sized for."""
    backend: Literal["none", "fsdp", "deepspeed"] = "none"
    gpus_per_node: int = Field(8, ge=1)
    nodes: int = Field(1, ge=1)
    gpu_memory_gib: float = Field(80, gt=0)


class Recipe(_Strict):
    """One adaptation run: the model, data and every stage's settings, validated on load."""
    name: str
    output_dir: Path
    seed: int = 0
    stages: list[Literal["import", "tokenizer", "dapt", "gen-data", "sft", "export", "autoeval", "serve"]] = Field(
        default_factory=lambda: ["tokenizer", "dapt", "gen-data", "sft", "export", "autoeval"])
    model: ModelSection
    data: DataSection = Field(default_factory=DataSection)
    tokenizer: TokenizerSection = Field(default_factory=TokenizerSection)
    dapt: TrainSection = Field(default_factory=TrainSection)
    sft: TrainSection = Field(default_factory=lambda: TrainSection(lr=2e-5, block_size=2048, global_batch_size=128,
                                                                    general_ratio=0.5))
    gendata: GenDataSection = Field(default_factory=GenDataSection)
    autoeval: AutoEvalSection = Field(default_factory=AutoEvalSection)
    export: ExportSection = Field(default_factory=ExportSection)
    serve: ServeSection = Field(default_factory=ServeSection)
    distributed: DistributedSection = Field(default_factory=DistributedSection)

    def fingerprint(self, section: str) -> str:
        """Hash of what a stage's checkpoints depend on (model, data and that section), for safe resume."""
        keep = {k: self.model_dump(mode="json")[k] for k in ("model", "data", "tokenizer", section)}
        keep[section].pop("time_budget_min", None)  # a bigger budget continues the same run
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def _apply_override(raw: dict, item: str) -> None:
    if "=" not in item:
        raise RecipeError(f"override {item!r}: expected dotted.key=value")
    key, value = item.split("=", 1)
    node = raw
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise RecipeError(f"override {item!r}: {p!r} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError as e:
        raise RecipeError(f"override {item!r}: the value is not valid YAML ({e})") from e


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Load and validate a YAML recipe; `overrides` are dotted `section.key=value` strings. Errors are RecipeError
    naming the file, the field and the bad value (``corpora.config_io``)."""
    path = Path(path)
    raw = read_yaml_mapping(path, what="recipe", error=RecipeError)
    for item in overrides or []:
        _apply_override(raw, item)
    return validate_model(Recipe, raw, path, error=RecipeError)
