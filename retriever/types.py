"""Search results shared by the retriever and its callers."""
from __future__ import annotations

from dataclasses import dataclass, field

from corpora.types import Chunk


@dataclass
class SearchHit:
    """One ranked chunk of a search: the fused score it was ranked by, its rank and each part's score."""

    chunk: Chunk
    score: float  # the fused (or reranked) score used for ranking
    rank: int  # 1-based
    scores: dict[str, float] = field(default_factory=dict)  # components: dense, bm25, rerank
