"""Leave-one-out accuracy of owner assignment over a tracker's resolved bugs, against the baseline.

Each resolved bug with an owner is held out in turn and ranked from every other bug; a hit at k means
its real owner is among the top k. The baseline ranks the owners of the held-out bug's component by
how many of its bugs they resolved (majority owner per component). Used by ``bench/bug_assign.py``.

    vectors = BugEmbeddings(cache_db).embed(bugs)
    leave_one_out(bugs, vectors, {"fused": AssignConfig()})   # {"baseline": {...}, "fused": {...}}
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.bugs.assign import AssignConfig, OwnerRanker, majority_owner_baseline, owner_of
from assistant.bugs.store import is_resolved
from corpora.types import BugRecord


def leave_one_out(bugs: Sequence[BugRecord], vectors: np.ndarray,
                  methods: dict[str, AssignConfig]) -> dict[str, dict[str, float]]:
    """``{method: {"top1", "top3", "n"}}`` for the baseline and each ranker configuration."""
    held_out = [i for i, b in enumerate(bugs) if is_resolved(b) and owner_of(b)]
    hits = {name: [0, 0] for name in ["baseline", *methods]}
    rankers = {name: OwnerRanker(bugs, vectors, cfg.model_copy(update={"top": 3})) for name, cfg in methods.items()}
    for i in held_out:
        bug, truth = bugs[i], owner_of(bugs[i])
        ranked = {"baseline": majority_owner_baseline(bug, bugs, top=3)}
        for name, ranker in rankers.items():
            ranked[name] = [c.owner for c in ranker.rank(bug, vectors[i])]
        for name, owners in ranked.items():
            hits[name][0] += owners[:1] == [truth]
            hits[name][1] += truth in owners[:3]
    n = max(1, len(held_out))
    return {name: {"top1": h1 / n, "top3": h3 / n, "n": len(held_out)} for name, (h1, h3) in hits.items()}
