"""Fusing the dense and BM25 rankings into one: reciprocal-rank fusion or weighted score fusion.

- ``rrf``: score = sum over lists of weight / (rrf_k + rank). Needs no score calibration; robust default.
- ``weighted``: each list's scores min-max normalised to [0, 1], then
  dense_weight * dense + bm25_weight * bm25
  (a chunk missing from a list scores 0 there). Uses how much better the top hit is, not only its rank.

``IndexConfig.fusion`` picks one; bench/retrieval.py measures both on the same index.
"""
from __future__ import annotations

import numpy as np

Ranking = tuple[np.ndarray, np.ndarray]  # (ids, scores), best first


def rrf(dense: Ranking, bm25: Ranking, *, k: int = 60, dense_weight: float = 1.0,
        bm25_weight: float = 1.0) -> dict[int, float]:
    """Reciprocal-rank fusion: id -> fused score."""
    fused: dict[int, float] = {}
    for (ids, _), w in ((dense, dense_weight), (bm25, bm25_weight)):
        for rank, i in enumerate(ids.tolist(), 1):
            fused[i] = fused.get(i, 0.0) + w / (k + rank)
    return fused


def _minmax(scores: np.ndarray) -> np.ndarray:
    if not len(scores):
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    return np.ones_like(scores) if hi - lo < 1e-9 else (scores - lo) / (hi - lo)


def weighted(dense: Ranking, bm25: Ranking, *, dense_weight: float = 0.5,
             bm25_weight: float = 0.5) -> dict[int, float]:
    """Weighted sum of min-max normalised scores: id -> fused score."""
    fused: dict[int, float] = {}
    for (ids, scores), w in ((dense, dense_weight), (bm25, bm25_weight)):
        for i, s in zip(ids.tolist(), _minmax(np.asarray(scores, dtype=np.float64)).tolist()):
            fused[i] = fused.get(i, 0.0) + w * s
    return fused


def fuse(method: str, dense: Ranking, bm25: Ranking, *, rrf_k: int = 60, dense_weight: float = 0.5,
         bm25_weight: float = 0.5) -> list[tuple[int, float]]:
    """Fused (id, score) pairs, best first (ties broken by id for a stable order)."""
    if method == "rrf":
        # RRF weights are relative: equal weights give the classic formula.
        scale = 2.0 / (dense_weight + bm25_weight) if dense_weight + bm25_weight > 0 else 1.0
        fused = rrf(dense, bm25, k=rrf_k, dense_weight=dense_weight * scale, bm25_weight=bm25_weight * scale)
    elif method == "weighted":
        fused = weighted(dense, bm25, dense_weight=dense_weight, bm25_weight=bm25_weight)
    else:
        raise ValueError(f"fusion must be 'rrf' or 'weighted', got {method!r}")
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
