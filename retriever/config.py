"""IndexConfig: every knob of an index build and its search, typed, validated, and saved in the index.

Load one from YAML with ``IndexConfig.from_yaml(path)`` (``chipassist index --config FILE``); unknown keys
and impossible values are rejected naming the field. The config used to build an index is stored in its
manifest, and ``Index.open`` searches with it (callers may replace ``index.config`` to try other settings).

Example YAML::

    faiss: hnsw
    hnsw_m: 32
    fusion: weighted
    dense_weight: 0.6
    chunking: {max_chars: 1200}
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from corpora.chunking import ChunkConfig
from corpora.config_io import ConfigError, load_yaml_model
from corpora.ingest import IngestConfig

FaissType = Literal["flat", "hnsw", "ivfpq"]
StoreType = Literal["faiss", "numpy"]  # retriever.stores.STORES
Fusion = Literal["rrf", "weighted"]


class IndexConfigError(ConfigError):
    """An index config file or value is invalid; the message names the file and the field."""


class IndexConfig(BaseModel):
    """Build and search settings of one index.

    Args:
        model: local sentence-transformers folder (default: all-MiniLM-L6-v2 from its package).
        embed_backend / batch_size / max_seq_length: passed to ``retriever.embedder.Embedder``.
        embed_chunk: chunks embedded per step (a progress and crash-safety unit, not a batch size).
        store: the vector store (``retriever.stores``): ``faiss`` (default) or ``numpy`` (exact, in memory).
        faiss: ``flat`` (exact inner product), ``hnsw`` or ``ivfpq`` (approximate, for large corpora).
        fusion: ``rrf`` (reciprocal-rank fusion) or ``weighted`` (min-max normalised score sum).
        candidates: how many hits each retriever contributes before fusion (grown when ACLs filter many).
        bm25_source: BM25 also indexes each chunk's source path (``hw/ip/uart/doc/...`` -> ``uart``, ``doc``),
            so a question naming a block or tool finds its files; the path is split like identifiers.
        window_chars: each chunk is embedded and BM25-indexed as passage windows of about this many characters
            and scores as its best window (``retriever.windows``); 0: one vector per whole chunk.
        chunking / ingest: the ``corpora.chunking.ChunkConfig`` / ``corpora.ingest.IngestConfig`` of the build,
            checked with the rest (a mistyped key fails at load naming ``chunking.<key>``, not mid-build).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: Path | None = None
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = "onnx-int8"
    batch_size: int = Field(64, ge=1, le=4096)
    max_seq_length: int | None = Field(None, ge=8, le=8192)
    embed_chunk: int = Field(1024, ge=1)
    window_chars: int = Field(300, ge=0, le=20000)

    store: StoreType = "faiss"
    faiss: FaissType = "flat"
    hnsw_m: int = Field(32, ge=4, le=256)
    hnsw_ef_construction: int = Field(80, ge=8)
    hnsw_ef_search: int = Field(64, ge=8)
    ivf_nlist: int = Field(256, ge=1)
    ivf_nprobe: int = Field(16, ge=1)
    pq_m: int = Field(16, ge=1, description="sub-quantizers; must divide the embedding dimension")
    pq_bits: int = Field(8, ge=4, le=12)

    fusion: Fusion = "rrf"
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(0.5, ge=0.0)
    bm25_weight: float = Field(0.5, ge=0.0)
    candidates: int = Field(50, ge=1, le=10_000)
    bm25_k1: float = Field(1.5, gt=0)
    bm25_b: float = Field(0.75, ge=0, le=1)
    bm25_source: bool = True

    reranker: Path | None = None
    rerank_candidates: int = Field(20, ge=1, le=1000)

    chunking: ChunkConfig = Field(default_factory=ChunkConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)

    @model_validator(mode="after")
    def _check(self) -> "IndexConfig":
        if self.fusion == "weighted" and self.dense_weight + self.bm25_weight <= 0:
            raise ValueError("dense_weight + bm25_weight must be > 0 for weighted fusion")
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> "IndexConfig":
        """Read a YAML mapping; errors name the file, the field and the bad value (``corpora.config_io``)."""
        return load_yaml_model(path, cls, what="index config file", error=IndexConfigError)

    def chunk_config(self) -> ChunkConfig:
        """The ``corpora.chunking.ChunkConfig`` of these settings (``self.chunking``)."""
        return self.chunking

    def ingest_config(self) -> IngestConfig:
        """The ``corpora.ingest.IngestConfig`` of these settings (``self.ingest``)."""
        return self.ingest

    def content_key(self) -> str:
        """Hash of the settings that change chunks or their vectors: a change re-embeds everything."""
        # only the chunking keys that differ from the defaults: the key of an index built with `chunking: {}`
        # (the untyped form of earlier versions) stays the same, so it is not re-embedded for nothing
        blob = json.dumps({"chunking": self.chunking.model_dump(exclude_defaults=True), "max_seq_length": self.max_seq_length,
                           "window_chars": self.window_chars}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
