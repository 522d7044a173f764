"""Training pairs for the retriever, generated from an index by the project itself (never written by hand).

    chipassist retriever gen-pairs --index DIR --out pairs.jsonl [--backend openai --base-url URL]

Queries come from the chunks' own structure (``derived``): section titles and heading paths, Tcl command
names with their option tables, register and field tables, Verilog module and port names, bug titles —
turned into engineer-style wording by templates and paraphrase rules. With an OpenAI-compatible LLM server
(``openai``) the LLM writes the questions instead. Only the index is read: a benchmark question file is
never an input.

Each query gets hard negatives mined with the index's own model and vectors (the same rule as
``sentence_transformers.util.mine_hard_negatives`` without re-embedding the corpus): the nearest chunks that
are not the positive, minus false negatives (same section of the same source, near-duplicate text, or a
score within ``relative_margin`` of the positive's). Whole source documents go to a held-out split.
Output: one JSON object per line ``{query, positive, chunk_id, source, kind, negatives, negative_ids, split, acl}``.

ACLs: only chunks visible to ``PairsConfig.groups`` (None: public only; ``corpora.types.visible``) are read,
as positives, negatives or random fill, and every row records ``acl``, the strictest ACL of its texts. A
model trained on the pairs may reproduce their text, so restricted text is used only when asked for.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpora.dedup import similarity
from corpora.jsonl import read_jsonl, write_jsonl
from corpora.types import Chunk, strictest, visible
from retriever.finetune.config import PairsConfig
from retriever.finetune.templates import derive_queries


class PairsError(ValueError):
    """The index cannot give training pairs (too small, no text); the message says which and why."""


@dataclass
class PairsReport:
    """What `generate_pairs` made: pairs per split and kind, negatives, and what the ACL and the
    false-negative filters left out."""
    pairs: int = 0
    train: int = 0
    heldout: int = 0
    chunks_sampled: int = 0
    negatives: int = 0
    acl_skipped: int = 0  # chunks of the index not visible to the configured groups (never read)
    filtered: Counter = field(default_factory=Counter)  # false negatives dropped, by reason
    kinds: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        """The report as JSON-ready data (counters as plain dicts)."""
        return {"pairs": self.pairs, "train": self.train, "heldout": self.heldout,
                "chunks_sampled": self.chunks_sampled, "negatives": self.negatives, "acl_skipped": self.acl_skipped,
                "filtered": dict(self.filtered), "kinds": dict(self.kinds)}


def embed_text(chunk: Chunk) -> str:
    """The text the index embeds for a chunk (title line + body), so training sees what search sees."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def generate_pairs(index, config: PairsConfig | None = None, *, progress: bool = True
                   ) -> tuple[list[dict], PairsReport]:
    """Pairs (with hard negatives and a split) for every usable chunk of ``index``, up to ``max_pairs``."""
    config = config or PairsConfig()
    every = list(index.chunks())
    allowed = [c for c in every if visible(c.acl, config.groups)]
    chunks = [c for c in allowed if len(c.text.strip()) >= config.min_chunk_chars]
    if not chunks:
        raise PairsError(f"index {index.index_dir} has no chunk text to derive queries from "
                         f"(no chunk of at least {config.min_chunk_chars} characters"
                         f"{' visible to groups ' + str(config.groups or ['public']) if len(allowed) < len(every) else ''})")
    if len(chunks) < 4:
        raise PairsError(f"index {index.index_dir} has only {len(chunks)} usable chunks: too small a corpus "
                         f"to fine-tune on (keep the base model)")
    rng = random.Random(config.seed)
    queries = _queries(chunks, config, rng, progress)
    if len(queries) < 2:
        raise PairsError(f"index {index.index_dir}: only {len(queries)} queries could be derived")
    report = PairsReport(chunks_sampled=len({c.id for _, c in queries}), acl_skipped=len(every) - len(allowed))
    heldout = _heldout_sources(sorted({c.source for _, c in queries}), config, rng)
    negatives = mine_negatives(index, queries, config, report, progress=progress)
    rows = []
    for (query, chunk), negs in zip(queries, negatives):
        split = "heldout" if chunk.source in heldout else "train"
        rows.append({"query": query, "positive": embed_text(chunk), "chunk_id": chunk.id,
                     "source": chunk.source, "kind": chunk.kind, "negatives": [embed_text(n) for n in negs],
                     "negative_ids": [n.id for n in negs], "split": split,
                     "acl": strictest(chunk.acl, *(n.acl for n in negs))})
        report.kinds[chunk.kind] += 1
        report.negatives += len(negs)
    report.pairs = len(rows)
    report.heldout = sum(r["split"] == "heldout" for r in rows)
    report.train = report.pairs - report.heldout
    return rows, report


def _queries(chunks: list[Chunk], config: PairsConfig, rng: random.Random, progress: bool
             ) -> list[tuple[str, Chunk]]:
    """(query, chunk) for sampled chunks: spread over chunks first, so every part of the corpus is covered."""
    order = chunks[:]
    rng.shuffle(order)
    writer = _llm_writer(config) if config.backend == "openai" else None
    seen: set[str] = set()
    out: list[tuple[str, Chunk]] = []
    for chunk in _progress(order, "writing queries", progress):
        if len(out) >= config.max_pairs:
            break
        qs = writer(chunk, config.queries_per_chunk) if writer else derive_queries(chunk, rng,
                                                                                    config.queries_per_chunk)
        for q in qs:
            key = " ".join(q.lower().split())
            if key and key not in seen and len(out) < config.max_pairs:
                seen.add(key)
                out.append((q, chunk))
    return out


def _heldout_sources(sources: list[str], config: PairsConfig, rng: random.Random) -> set[str]:
    """Whole documents for the held-out split, so evaluation measures chunks the model never trained on."""
    if config.heldout_fraction == 0 or len(sources) < 2:
        return set()
    n = max(1, round(len(sources) * config.heldout_fraction))
    return set(rng.sample(sources, min(n, len(sources) - 1)))


def mine_negatives(index, queries: list[tuple[str, Chunk]], config: PairsConfig, report: PairsReport, *,
                   progress: bool = True) -> list[list[Chunk]]:
    """Per query, up to ``num_negatives`` hard negatives: nearest chunks by the index's model, false ones dropped.

    The positive's score is its exact cosine to the query (from its stored vector), as in
    ``sentence_transformers.util.mine_hard_negatives``: a candidate scoring above
    ``(1 - relative_margin) * positive score`` may answer the query too and is dropped. When every near
    candidate is dropped (the base model ranks the positive far down), random chunks of other documents
    fill in, so every row has the same number of negatives.
    """
    if config.num_negatives == 0:
        return [[] for _ in queries]
    q_vecs = index.embedder.embed_documents([q for q, _ in queries], progress=progress)
    ids, scores = _nearest(index, q_vecs, config.mine_depth, config.groups)
    rows = index._rows({int(v) for row in ids for v in row if v >= 0})
    pos_vecs = _vectors_by_id(index, {c.id for _, c in queries})
    pool = [c for _, c in queries]
    rng = random.Random(config.seed)
    out = []
    for i, (_, chunk) in enumerate(queries):
        pos_vec = pos_vecs.get(chunk.id)
        # the positive scores like every candidate: its best window
        pos_score = float((pos_vec @ q_vecs[i]).max()) if pos_vec is not None else float(scores[i][0])
        keep: list[Chunk] = []
        for vid, score in zip(ids[i], scores[i]):
            cand = rows.get(int(vid))
            if cand is None or len(keep) >= config.num_negatives or not visible(cand.acl, config.groups):
                continue  # a negative is training text too: never one the configured groups may not see
            reason = false_negative_reason(chunk, cand, float(score), pos_score, config)
            if reason:
                report.filtered[reason] += 1
            else:
                keep.append(cand)
        for _ in range(20 * config.num_negatives):  # all near chunks were false negatives: random far ones
            if len(keep) >= config.num_negatives:
                break
            cand = rng.choice(pool)
            if cand.source != chunk.source and all(cand.id != k.id for k in keep):
                keep.append(cand)
                report.filtered["filled at random"] += 1
        out.append(keep)
    return out


def _vectors_by_id(index, chunk_ids: set[str]) -> dict[str, np.ndarray]:
    """Stored (windows, dim) vectors of the given chunks (store rows are in vid order, like ``chunks()``)."""
    per_chunk = index.store.chunk_vectors(index.embedder.dim)
    return {chunk.id: per_chunk[vid] for vid, chunk in zip(per_chunk, index.chunks()) if chunk.id in chunk_ids}


def _nearest(index, q_vecs: np.ndarray, depth: int, groups) -> tuple[np.ndarray, np.ndarray]:
    """(vids, scores) of the ``depth`` nearest chunks per query that ``groups`` may see (a chunk scores as its
    best window; the vector store applies the groups, so hidden chunks do not use up the depth)."""
    return index.dense_windows(q_vecs, depth, groups)


def false_negative_reason(positive: Chunk, cand: Chunk, score: float, pos_score: float,
                          config: PairsConfig) -> str | None:
    """Why ``cand`` may answer the query too (so must not be a negative), or None if it is a true negative."""
    if cand.id == positive.id:
        return "positive"
    if cand.source == positive.source and cand.title.split(" (part")[0] == positive.title.split(" (part")[0]:
        return "same section"
    if similarity(cand.text, positive.text, n=3) >= config.near_duplicate:
        return "near duplicate"
    if score > (1 - config.relative_margin) * pos_score:
        return "score margin"
    return None


def _llm_writer(config: PairsConfig):
    """Engineer-style questions from an OpenAI-compatible server (one per line in the reply); a server failure
    is a PairsError naming the server and what to check (`corpora.llm_client`)."""
    from corpora.llm_client import ChatClient, LLMError

    client = ChatClient(config.base_url, api_key_env=config.api_key_env, timeout_s=config.timeout_s)
    try:
        model = config.llm_model or client.first_model()
    except LLMError as e:
        raise PairsError(f"gen-pairs: {e}") from e

    def write(chunk: Chunk, n: int) -> list[str]:
        prompt = (f"You are a chip design engineer. Write {n} different questions that the passage below "
                  f"answers, as an engineer would ask them without seeing it. One question per line, no "
                  f"numbering.\n\nSource: {chunk.source}\nSection: {chunk.title}\n\n{chunk.text[:3000]}")
        try:
            reply = client.complete(model, [{"role": "user", "content": prompt}], max_tokens=60 * n, temperature=0.7)
        except LLMError as e:
            raise PairsError(f"gen-pairs: {e}") from e
        lines = reply.splitlines()
        return [re.sub(r"^\s*(?:\d+[.)]|[-*])\s*", "", s).strip() for s in lines if len(s.split()) >= 3][:n]
    return write


def _progress(items: list, label: str, show: bool) -> Iterable:
    if not show:
        return items
    from rich.progress import track

    return track(items, description=label)


def write_pairs(rows: list[dict], path: Path) -> None:
    """Write JSONL atomically (temp file + os.replace): an interrupted run leaves the old file intact."""
    write_jsonl(path, rows)


def read_pairs(path: Path) -> Iterator[dict]:
    """Rows of a pairs file; a bad line raises PairsError naming the file and line."""
    if not Path(path).is_file():
        raise PairsError(f"pairs file not found: {path}")
    for n, row in read_jsonl(path, PairsError):
        missing = {"query", "positive", "chunk_id"} - set(row) if isinstance(row, dict) else {"object"}
        if missing:
            raise PairsError(f"{path}:{n}: missing field(s) {', '.join(sorted(missing))}")
        yield row
