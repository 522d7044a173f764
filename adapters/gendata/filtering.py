"""What of the generated samples is kept: every candidate is filtered (empty, too short or long, an answer not
grounded in its source text by share of content words) and deduplicated (the same normalised question, or a
near-duplicate one: word-set Jaccard >= threshold with the same identifiers, so "-min" and "-max" stay distinct);
and the AutoEval multiple-choice questions drawn from sibling table rows."""
from __future__ import annotations

import random
import re
import zlib
from collections import Counter

from adapters.config import GenDataSection
from adapters.gendata.samples import Candidate, McGroup


_WORD = re.compile(r"\w+")
_IDENT = re.compile(r"-?[A-Za-z_][\w.]*")
_STOP = set("the and for with this that are was were from into its not you your can will has have use used when "
            "which what does each all any one but then than only also out how who why where their there these those "
            "should would could must may been being our per via".split())


def _norm(q: str) -> str:
    return " ".join(_WORD.findall(q.lower()))


def _idents(q: str) -> frozenset[str]:
    """Names in a question - quoted or `code` spans and identifiers (with _ . digits, a leading -, or 2+ capitals):
    questions about different names are different questions however alike their other words."""
    quoted = re.findall(r'"([^"\n]{1,200})"|`([^`\n]{1,200})`', q)
    names = {a or b for a, b in quoted}
    return frozenset(names | {t for t in _IDENT.findall(q.replace("`", " ")) if t.startswith("-") or
                              re.search(r"[_\d.]", t) or sum(ch.isupper() for ch in t) >= 2})


def _content(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOP}


def _filter_reason(c: Candidate, cfg: GenDataSection) -> str:
    q, a = c.question.strip(), c.answer.strip()
    if not q or not a:
        return "empty"
    if len(a) < cfg.min_answer_chars or len(q) < 10:
        return "too_short"
    if len(a) > cfg.max_answer_chars or len(q) > cfg.max_question_chars:
        return "too_long"
    if cfg.min_overlap > 0 and c.context:
        words = _content(a)
        shared = words & _content(c.context)
        if not shared or len(shared) < cfg.min_overlap * len(words):
            return "ungrounded"
    return ""


def dedup_filter(cands: list[Candidate], cfg: GenDataSection) -> tuple[list[Candidate], dict, list[tuple]]:
    """Filter and deduplicate in order (the first of duplicates is kept); cap each kind at max_per_kind.
    Returns (kept, per-kind report, dropped (candidate, reason) pairs)."""
    from corpora.dedup import NearDuplicates
    # questions are short: compare word sets (1-shingles) exactly; LSH only proposes candidates
    near = NearDuplicates(cfg.near_dup_threshold, shingle=1, num_perm=128, exact=True)
    seen: set[str] = set()
    kept_idents: dict[int, frozenset[str]] = {}
    made, kept_n, reasons = Counter(), Counter(), {}
    kept, dropped = [], []
    for n, c in enumerate(cands):
        made[c.kind] += 1
        reason = c.reason or _filter_reason(c, cfg)
        norm = _norm(c.question)
        idents, comparable = _idents(c.question), len(set(norm.split())) >= 3
        if not reason and norm in seen:
            reason = "duplicate"
        # questions about different names are different questions however alike their other words
        if not reason and comparable and near.find(norm, accept=lambda key: kept_idents[key] == idents) is not None:
            reason = "near_duplicate"
        if not reason and kept_n[c.kind] >= cfg.max_per_kind:
            reason = "over_max_per_kind"
        if reason:
            reasons.setdefault(c.kind, Counter())[reason] += 1
            dropped.append((c, reason))
            continue
        seen.add(norm)
        if comparable:
            kept_idents[n] = idents
            near.add(n, norm)
        kept_n[c.kind] += 1
        kept.append(c)
    report = {k: {"made": made[k], "kept": kept_n[k], "dropped": made[k] - kept_n[k],
                  "reasons": dict(sorted(reasons.get(k, {}).items()))} for k in sorted(made)}
    return kept, report, dropped


# -- AutoEval multiple choice ----------------------------------------------------------------------------------

def mc_questions(groups: list[McGroup], max_choices: int = 4) -> list[dict]:
    """One question per row with a distinctive description; distractors are other rows' names (3+ choices)."""
    rows, seen = [], set()
    for g in groups:
        names = list(dict.fromkeys(n for n, _ in g.items))
        descs = Counter(d for _, d in g.items)
        if len(names) < 3:
            continue
        for name, desc in g.items:
            q = f"{g.prefix}\"{desc}\"?"
            if descs[desc] > 1 or q in seen or name.lower() in desc.lower():
                continue
            seen.add(q)
            rng = random.Random(zlib.crc32(q.encode()))
            others = [n for n in names if n != name]
            choices = rng.sample(others, min(max_choices - 1, len(others))) + [name]
            rng.shuffle(choices)
            rows.append({"question": q, "choices": choices, "answer": choices.index(name),
                         "category": g.category, "source": g.source})
    return rows
