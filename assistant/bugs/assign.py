"""Who should fix this bug? Owners ranked from similar resolved bugs and component ownership; no LLM.

Two signals, both learned from the RESOLVED bugs of the same tracker (the bug itself excluded):

- **neighbours**: the ``k`` resolved bugs nearest to this one by embedding (all-MiniLM-L6-v2 over the
  text known at triage time: title, component, description; never the comments or the assignee).
  Each neighbour votes for its owner with ``max(sim, 0) * time weight`` (below), normalised to sum to 1:
  ``knn(o)``. The time weight matters: without it the neighbours vote for owners who moved on.
- **component ownership**: who resolved the bugs of this component, each bug weighted by how close in
  time it is to this one (``0.5 ** (|days apart| / half_life_days)``), so ownership that drifted from
  one engineer to another follows the drift. ``comp(o) = weight of o's bugs / weight of all the
  component's bugs``. A bug without a known component uses its neighbours' components instead.

Score fusion: ``score(o) = a * knn(o) + (1 - a) * comp(o)`` with ``a = alpha * m / (m + neighbour_prior)``,
``m`` the number of resolved bugs with an owner: a small tracker's neighbours are mostly noise (on the
shipped 24-bug export the neighbour vote alone scores top-1 0.16), so they earn their weight as history
grows. Both terms are distributions over owners, so the score is one too. ``bench/bug_assign.py`` measures each signal alone, the fusion and the
majority-owner-per-component baseline. The defaults (k=20, alpha=0.7, neighbour_prior=50, half-life 180
days) were picked on the shipped export and synthetic exports with seeds 0-2 (top-1 moves by less than
0.03 for alpha 0.5-0.8, k 10-20, prior 25-100 on the synthetic ones).

Embeddings are cached in SQLite per (model fingerprint, content hash of the triage text), so a bug is
embedded once however often it is ranked.

    ranker = OwnerRanker.from_bugs(all_bugs, cache_db=settings.bugs_db)
    ranker.rank(bug)   # -> list[OwnerCandidate], best first, each with its reasons
"""
from __future__ import annotations

import functools
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assistant.bugs.store import is_resolved
from assistant.types import OwnerCandidate
from corpora.types import BugRecord, content_hash


class AssignConfig(BaseModel):
    """How owners are ranked: neighbours considered, the neighbour/component weight, the time decay and how
    many candidates to return (``bugs.assign`` in the settings; closed, so a typo fails at load)."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(20, ge=1, le=200, description="neighbours (resolved bugs) considered")
    alpha: float = Field(0.7, ge=0.0, le=1.0, description="weight of the neighbour signal vs component ownership")
    neighbour_prior: float = Field(50.0, ge=0.0, description="resolved bugs at which neighbours get half of alpha")
    half_life_days: float = Field(180.0, gt=0, description="time decay of component ownership evidence")
    top: int = Field(5, ge=1, le=50, description="candidates returned")


def owner_of(bug: BugRecord) -> str:
    """Who fixed a resolved bug: an explicit resolver if the export has one, else the assignee."""
    return str(bug.extra.get("resolved_by") or bug.assignee or "").strip()


def triage_text(bug: BugRecord) -> str:
    """What is known when a bug is filed: the text assignment may look at (no comments, no assignee)."""
    return "\n".join(p for p in (bug.title, f"component: {bug.component}" if bug.component else "",
                                 bug.description.strip()) if p)


def bug_date(bug: BugRecord) -> datetime | None:
    """When the bug was filed (else last updated), as a naive datetime; None when neither date parses."""
    for value in (bug.created, bug.updated):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
        except (ValueError, AttributeError):
            continue
    return None


# -- embeddings with a cache -----------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _embedder(model: str | None):
    from retriever.embedder import Embedder

    return Embedder(model)


class BugEmbeddings:
    """Embeds bugs' triage texts, reading and writing a SQLite cache keyed by model and content hash."""

    def __init__(self, cache_db: str | Path | None = None, model: str | Path | None = None) -> None:
        self.cache_db = Path(cache_db) if cache_db else None
        self.model = str(model) if model else None

    def embed(self, bugs: Sequence[BugRecord]) -> np.ndarray:
        """One L2-normalised row per bug; only bugs missing from the cache go through the model."""
        hashes = [content_hash(triage_text(b)) for b in bugs]
        fingerprint = self._fingerprint()
        cached = self._read(fingerprint, set(hashes))
        missing = sorted({h for h in hashes if h not in cached})
        if missing:
            texts = {content_hash(triage_text(b)): triage_text(b) for b in bugs}
            vecs = _embedder(self.model).embed_documents([texts[h] for h in missing])
            fresh = dict(zip(missing, vecs))
            self._write(fingerprint, fresh)
            cached.update(fresh)
        if not bugs:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([cached[h] for h in hashes]).astype(np.float32)

    def _fingerprint(self) -> str:
        from retriever.embedder import default_model_path, model_fingerprint

        return model_fingerprint(Path(self.model) if self.model else default_model_path())

    def _connect(self) -> sqlite3.Connection:
        assert self.cache_db is not None
        self.cache_db.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.cache_db, timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS bug_embeddings (model TEXT, hash TEXT, vec BLOB, "
                   "PRIMARY KEY (model, hash))")
        return db

    def _read(self, fingerprint: str, hashes: set[str]) -> dict[str, np.ndarray]:
        if self.cache_db is None or not self.cache_db.is_file():
            return {}
        with closing(self._connect()) as db:
            rows = db.execute("SELECT hash, vec FROM bug_embeddings WHERE model = ?", (fingerprint,))
            return {h: np.frombuffer(v, dtype=np.float32) for h, v in rows if h in hashes}

    def _write(self, fingerprint: str, vecs: dict[str, np.ndarray]) -> None:
        if self.cache_db is None:
            return
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO bug_embeddings VALUES (?, ?, ?)",
                           [(fingerprint, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vecs.items()])


# -- ranking ---------------------------------------------------------------------------------------

class OwnerRanker:
    """Ranks owners for a bug from a tracker's resolved history (see the module docstring)."""

    def __init__(self, bugs: Sequence[BugRecord], vectors: np.ndarray, config: AssignConfig | None = None) -> None:
        self.config = config or AssignConfig()
        self._embeddings: BugEmbeddings | None = None
        keep = [i for i, b in enumerate(bugs) if is_resolved(b) and owner_of(b)]
        self.history = [bugs[i] for i in keep]
        self.vectors = vectors[keep] if len(keep) else np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 384))
        self.owners = [owner_of(b) for b in self.history]
        self.dates = [bug_date(b) for b in self.history]
        m = len(self.history)
        self.alpha = self.config.alpha * m / (m + self.config.neighbour_prior) if m else 0.0
        self._by_component: dict[str, list[int]] = defaultdict(list)
        for i, b in enumerate(self.history):
            self._by_component[b.component.strip().lower()].append(i)

    @classmethod
    def from_bugs(cls, bugs: Sequence[BugRecord], *, cache_db: str | Path | None = None,
                  model: str | Path | None = None, config: AssignConfig | None = None) -> "OwnerRanker":
        """A ranker over the resolved ``bugs``, embedding them with ``model`` (vectors cached in
        ``cache_db``); keeps the embedder so ``rank`` can embed a new bug itself."""
        embeddings = BugEmbeddings(cache_db, model)
        ranker = cls(bugs, embeddings.embed(bugs), config)
        ranker._embeddings = embeddings
        return ranker

    def rank(self, bug: BugRecord, vector: np.ndarray | None = None) -> list[OwnerCandidate]:
        """Candidates best first; ``vector`` is the bug's embedding (computed when not given)."""
        if vector is None:
            if self._embeddings is None:
                raise ValueError("rank() needs the bug's vector when the ranker was not built by from_bugs()")
            vector = self._embeddings.embed([bug])[0]
        cfg = self.config
        allowed = np.array([b.id != bug.id for b in self.history], dtype=bool)  # leave the bug itself out
        if not allowed.any():
            return []
        sims = self.vectors @ vector
        sims = np.where(allowed, sims, -np.inf)
        order = [int(i) for i in np.argsort(-sims)[: min(cfg.k, int(allowed.sum()))]]
        when = bug_date(bug)
        knn = self._knn_scores(order, sims, when)
        comp, comp_reasons = self._component_scores(bug, order, sims, when)
        owners = set(knn) | set(comp)
        scored = {o: self.alpha * knn.get(o, 0.0) + (1 - self.alpha) * comp.get(o, 0.0) for o in owners}
        best = sorted(owners, key=lambda o: (-scored[o], o))[: cfg.top]
        return [OwnerCandidate(owner=o, score=round(scored[o], 4),
                               reasons=comp_reasons.get(o, []) + self._neighbour_reasons(o, order, sims))
                for o in best if scored[o] > 0]

    def _knn_scores(self, order: list[int], sims: np.ndarray, when: datetime | None) -> dict[str, float]:
        weights = {i: max(float(sims[i]), 0.0) * self._time_weight(when, self.dates[i]) for i in order}
        total = sum(weights.values()) or 1.0
        scores: dict[str, float] = defaultdict(float)
        for i, w in weights.items():
            scores[self.owners[i]] += w / total
        return dict(scores)

    def _component_scores(self, bug: BugRecord, order: list[int], sims: np.ndarray, when: datetime | None
                          ) -> tuple[dict[str, float], dict[str, list[str]]]:
        component = bug.component.strip().lower()
        if component and self._members(bug, component):
            mix = {component: 1.0}
        else:  # unknown component: borrow the neighbours' components, weighted by similarity
            votes: Counter[str] = Counter()
            for i in order:
                votes[self.history[i].component.strip().lower()] += max(float(sims[i]), 0.0)
            total = sum(votes.values()) or 1.0
            mix = {c: v / total for c, v in votes.items() if c}
        scores: dict[str, float] = defaultdict(float)
        reasons: dict[str, list[str]] = defaultdict(list)
        for comp_name, share in mix.items():
            members = self._members(bug, comp_name)
            weights = [self._time_weight(when, self.dates[i]) for i in members]
            total = sum(weights) or 1.0
            counts: Counter[str] = Counter(self.owners[i] for i in members)
            for i, w in zip(members, weights):
                scores[self.owners[i]] += share * w / total
            for owner, n in counts.items():
                label = comp_name if component else f"{comp_name} (the component of similar bugs)"
                last = max((self.history[i].updated or self.history[i].created for i in members
                            if self.owners[i] == owner), default="")
                reasons[owner].append(f"resolved {n} of {len(members)} resolved {label} bugs"
                                      + (f", most recently {last[:10]}" if last else ""))
        return dict(scores), dict(reasons)

    def _members(self, bug: BugRecord, component: str) -> list[int]:
        return [i for i in self._by_component.get(component, []) if self.history[i].id != bug.id]

    def _time_weight(self, when: datetime | None, then: datetime | None) -> float:
        if when is None or then is None:
            return 1.0
        return 0.5 ** (abs((when - then).days) / self.config.half_life_days)

    def _neighbour_reasons(self, owner: str, order: list[int], sims: np.ndarray) -> list[str]:
        mine = [i for i in order if self.owners[i] == owner][:2]
        return [f"resolved similar bug {self.history[i].id} \"{self.history[i].title}\" "
                f"(similarity {float(sims[i]):.2f})" for i in mine]


def majority_owner_baseline(bug: BugRecord, bugs: Sequence[BugRecord], top: int = 3) -> list[str]:
    """The baseline: the owners who resolved most bugs of this bug's component (the bug itself excluded)."""
    counts = Counter(owner_of(b) for b in bugs
                     if b.id != bug.id and is_resolved(b) and owner_of(b)
                     and b.component.strip().lower() == bug.component.strip().lower())
    return [o for o, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def format_ranking(candidates: list[OwnerCandidate]) -> str:
    """The ranking as plain text (the `assignment` section of a summary)."""
    if not candidates:
        return "No candidates: the tracker has no resolved bugs with an owner to learn from."
    lines = []
    for n, c in enumerate(candidates, 1):
        lines.append(f"{n}. {c.owner} (score {c.score:.2f})")
        lines += [f"   - {r}" for r in c.reasons]
    return "\n".join(lines)
