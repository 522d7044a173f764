"""Base vs tuned retriever on one question file, with the metrics of ``chipassist eval retrieval``.

``reembed(index, model, folder)`` builds a second index of the same roots and settings with the tuned
model (``build_index``; the original index is not touched), and ``compare`` scores both with
``retriever.evaluate.evaluate``. Used by ``chipassist retriever eval`` and ``bench/finetune_retriever.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from retriever.evaluate import EvalQuery, evaluate
from retriever.finetune.train import load_model
from retriever.index import Index, build_index

METRICS = ("hit@1", "hit@5", "hit@10", "mrr@10", "p50_ms", "p95_ms")


def reembed(index: Index, model: Path, folder: Path, *, progress: bool = True) -> Index:
    """An index of ``index``'s roots and config embedded with ``model`` (re-used if ``folder`` already is one).

    Raises TrainError when ``model`` is not a sentence-transformers folder, FileNotFoundError when the
    original index's roots are gone.
    """
    load_model(model)  # a clear error before any ingesting
    roots = [Path(r) for r in index.info["roots"]]
    missing = [str(r) for r in roots if not r.exists()]
    if missing or not roots:
        raise FileNotFoundError(f"index {index.index_dir} was built from {', '.join(missing) or 'no roots'}, "
                                f"which no longer exist: cannot re-embed its corpus with {model}")
    build_index(roots, folder, index.config.model_copy(update={"model": None}), model=model,
                progress=progress)
    return Index.open(folder)


def compare(indexes: dict[str, Index], queries: list[EvalQuery], *, k: int = 10, progress: bool = False,
            **search_kw: Any) -> dict[str, dict[str, Any]]:
    """``{name: evaluate(...).to_dict() + ranks}`` for each index, searched with the same settings."""
    out = {}
    for name, idx in indexes.items():
        report = evaluate(idx, queries, k=k, progress=progress, **search_kw)
        out[name] = report.to_dict() | {"ranks": report.ranks}
    return out


def verdict(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    """Whether to index with the tuned model: only when it ranks better (MRR@10) and loses neither hit@1 nor
    hit@5 on the user's own questions; a tuned model that trades one for the other is not adopted silently."""
    gains = {m: round(tuned[m] - base[m], 4) for m in ("hit@1", "hit@5", "mrr@10")}
    use = gains["mrr@10"] > 0 and gains["hit@1"] >= 0 and gains["hit@5"] >= 0
    lost = [m for m, g in gains.items() if g < 0]
    why = ("better on every headline metric" if use else
           f"worse on {', '.join(lost)}" if lost else "no better ranking (MRR@10)")
    return {"use_tuned": use, "why": why, "gains": gains}


def ratio(tuned: float, base: float) -> float | None:
    """``tuned / base``, or None when the base is 0 (no ratio to report)."""
    return tuned / base if base else None
