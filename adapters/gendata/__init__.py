"""Instruction data for domain SFT (and an AutoEval multiple-choice set), made from the corpus.

Two sources:
- a teacher LLM (recipe `gendata.teacher`: any OpenAI-compatible server): corpus chunks are sent with one prompt per
  kind - `qa` (question/answer from document and code chunks), `tcl` (task -> script, from Tcl files and command
  docs) and `bugs` (bug record -> summary) - and the JSON in each reply is parsed (a list or object, bare or in a
  ```json fence). Unparseable replies and items are counted as dropped, never fatal.
- without one, samples are derived from document structure: `qa` (section -> first paragraph, generic tables),
  `commands` (command usage block + options table), `options` (one per option row), `registers` (register and
  bit-field tables), `tcl` (a sentence before a Tcl block, commented procs and headers of .tcl files) and `bugs`
  (description -> title, triage fields, discussion -> status summary).

Then every candidate is filtered - empty, too short/long, answer not grounded in its source text (share of content
words) - and deduplicated: same normalised question, or a near-duplicate one (word-set Jaccard >= threshold with the
same identifiers, so "-min" and "-max" stay distinct). The report gives made/kept/dropped and drop reasons per kind.
Option/register/command tables and bug components also give multiple-choice questions (distractors are sibling rows)
in the AutoEval JSONL format (question, choices, answer index, category).

Modules: `structure` (no model), `teacher` (an LLM), `filtering` (filter, dedup, multiple choice), `samples` (the
types). Run: `chipassist adapt gen-data RECIPE`; outputs in RUN/gendata/: sft.jsonl, dropped.jsonl, autoeval_mc.jsonl.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from adapters.config import GenDataSection, RecipeError
from adapters.gendata.filtering import dedup_filter, mc_questions
from adapters.gendata.samples import STRUCTURE_KINDS, TEACHER_KINDS, Candidate, McGroup
from adapters.gendata.structure import (from_bug, from_markdown, from_structure, from_tcl, load_documents,
                                        rst_to_markdown)
from adapters.gendata.teacher import (PROMPTS, candidates_from_reply, check_teacher, from_teacher, parse_reply,
                                      teacher_client, teacher_jobs)
from corpora.jsonl import write_jsonl

__all__ = ["STRUCTURE_KINDS", "TEACHER_KINDS", "PROMPTS", "Candidate", "McGroup", "candidates_from_reply",
           "check_teacher", "dedup_filter", "from_bug", "from_markdown", "from_structure", "from_tcl",
           "from_teacher", "generate", "load_documents", "mc_questions", "parse_reply", "rst_to_markdown",
           "teacher_client", "teacher_jobs"]


def generate(roots: list[Path], cfg: GenDataSection, out_path: Path, log=None, acl_groups=("public",)) -> dict:
    """Write filtered, deduplicated SFT samples to `out_path` (JSONL, atomically), the dropped ones with reasons to
    dropped.jsonl and (cfg.autoeval_mc) multiple-choice questions to autoeval_mc.jsonl beside it; return the report.

    Raises RecipeError (before any request) for missing/empty roots, an unreachable teacher or an unserved model,
    and when nothing at all is kept.
    """
    t0 = time.perf_counter()
    docs = load_documents(roots, acl_groups)
    extra: dict = {}
    if cfg.teacher:
        cands, extra = from_teacher(docs, cfg.teacher, log)
        groups = from_structure(roots, docs)[1] if cfg.autoeval_mc else []
    else:
        cands, groups = from_structure(roots, docs)
    kept, per_kind, dropped = dedup_filter(cands, cfg)
    if not kept:
        why = Counter(r for _, r in dropped).most_common(3)
        raise RecipeError(f"gen-data: no sample kept from {len(docs)} documents under "
                          f"{', '.join(map(str, roots))} (made {len(cands)}; drop reasons {dict(why)})")
    out_path = Path(out_path)
    write_jsonl(out_path, [c.sample() for c in kept])
    write_jsonl(out_path.parent / "dropped.jsonl",
                 [{"kind": c.kind, "reason": r, "source": c.source, "question": c.question[:300],
                   "answer": c.answer[:300]} for c, r in dropped])
    report = {"source": "teacher" if cfg.teacher else "structure", "documents": len(docs), **extra,
              "made": len(cands), "kept": len(kept), "dropped": len(dropped),
              "drop_reasons": dict(Counter(r for _, r in dropped).most_common()), "per_kind": per_kind,
              "out": str(out_path)}
    if cfg.autoeval_mc:
        mc = mc_questions(groups)
        write_jsonl(out_path.parent / "autoeval_mc.jsonl", mc)
        report["autoeval_mc"] = {"path": str(out_path.parent / "autoeval_mc.jsonl"), "questions": len(mc),
                                 "per_category": dict(Counter(r["category"] for r in mc))}
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return report
