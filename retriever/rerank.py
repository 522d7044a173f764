"""Optional second stage: a cross-encoder from a local folder re-scores the fused candidates.

Cross-encoders read query and chunk together, so they rank better than the bi-encoder but cost one forward
pass per candidate; ``IndexConfig.rerank_candidates`` bounds that. Loaded once, on first use, with
``sentence_transformers.CrossEncoder`` (never from a hub).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


class Reranker:
    """Scores (query, text) pairs with a local cross-encoder.

    Raises:
        FileNotFoundError: the folder does not exist.
    """

    def __init__(self, path: str | Path, *, batch_size: int = 32) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"reranker folder not found: {self.path}")
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(self.path), device="cpu", local_files_only=True)
        self.batch_size = batch_size

    def scores(self, query: str, texts: list[str]) -> np.ndarray:
        """The cross-encoder's relevance score of each text for ``query`` (one per text, higher is better)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        out = self.model.predict([(query, t) for t in texts], batch_size=self.batch_size,
                                 show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)[:, -1]
