"""Bug summaries: technical, managerial and assignment, for every LLM backend.

With an LLM, a thread is summarized hierarchically, as ChipNeMo did: long paths become aliases
(<P1>, ...; see `aliases`), the thread is cut into chunks that fit the model's context with room for
the answer, each chunk is summarized into notes, notes are merged level by level until they fit one
prompt, and a final prompt per kind writes the summary, whose aliases are then restored. Every prompt
is measured with the model's own tokenizer before it is sent, and one that would not fit raises
`ContextOverflowError` (it never reaches the model). A thread that fits is summarized in one prompt.

A written summary comes under a `facts` line read straight from the record (`digest.key_facts`: id,
title, status, component, owner, severity), so what a small model drops is still in front of the reader.
With no LLM (the `none` backend), or when the LLM fails, the summary is the deterministic digest
(`digest.bug_digest`) and ``retrieval_only`` is True. Assignment never needs an LLM (`assign`).

    summary = summarize_bug(bot, "PICO-12", kind="all", user_groups={"soc-team"})  # bugs from settings.bugs_db
    summary = summarize_bug(bot, "PICO-12", bugs_file="bugs.jsonl")  # or straight from an export

``bot`` is an `assistant.service.Assistant` (anything with ``.settings.bugs_db`` and ``.llm``).

ACLs: only bugs visible to ``user_groups`` (None: public only) are read, from the store or an export file
(whose bugs get their groups as on import, `store.with_acls`): the bug itself, and the resolved history the
assignment learns from and quotes as evidence. A bug outside the caller's groups is unknown. The summary's
``acl`` is the strictest of the bug's and, with an assignment, of every history bug the ranking used.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.bugs.aliases import AliasMap
from assistant.bugs.assign import OwnerRanker, format_ranking
from assistant.bugs.digest import bug_digest, key_facts
from assistant.bugs.store import BugStore, find_bug, with_acls
from assistant.types import BugSummary
from corpora.bugs import bug_to_text, load_bug_export
from corpora.types import BugRecord, strictest, visible

KINDS = ("technical", "managerial", "assignment", "all")
PER_MESSAGE_TOKENS = 8  # chat-template tokens around each message (role markers, separators)

SYSTEM = ("You summarize hardware design bug reports for chip design engineers and their managers. "
          "Use only facts from the bug thread. File paths appear as aliases such as <P1>: copy them exactly.")
MAP = ("Below is part {part} of {parts} of the thread of bug {id}. Write short notes of the facts it gives: "
       "symptom, suspected or confirmed root cause, affected units and files, reproduction, fix status, "
       "impact, owner, dates, next steps, risks. Notes only.\n\n{text}")
REDUCE = ("Below are notes on consecutive parts of the thread of bug {id}. Merge them into one set of notes, "
          "keeping every distinct fact and dropping repetition. Notes only.\n\n{text}")
FINAL = {
    "technical": ("Write a technical summary of bug {id} for the engineers working on it, under these headings: "
                  "Symptom; Root cause so far; Affected units and files; Reproduction; Fix status.\n\n{text}"),
    "managerial": ("Write a managerial summary of bug {id} for a project manager, under these headings: "
                   "Impact; Status; Owner; Dates; Next steps; Risks.\n\n{text}"),
}


class ContextOverflowError(RuntimeError):
    """A prompt would not fit the model's context with room for its answer (a bug in the chunking)."""


@dataclass
class SummaryRun:
    """What the hierarchical summarizer did: prompts sent per stage, and chunk / level counts."""

    prompts: list[tuple[str, int]] = field(default_factory=list)  # (stage, prompt tokens)
    chunks: int = 0
    levels: int = 0


class HierarchicalSummarizer:
    """Summarizes one bug thread with an LLM so that no prompt exceeds ``llm.context_tokens``."""

    def __init__(self, llm: Any, *, final_tokens: int | None = None, note_tokens: int | None = None) -> None:
        self.llm = llm
        ctx = int(llm.context_tokens)
        self.final_tokens = final_tokens or min(512, ctx // 4)
        self.note_tokens = note_tokens or min(256, ctx // 6)
        self.margin = max(16, ctx // 32)  # slack for tokenizers that count a joined prompt differently
        self.run = SummaryRun()

    def summarize(self, bug: BugRecord, kinds: list[str]) -> dict[str, str]:
        """``bug``'s summary of each of ``kinds`` ("technical", "managerial"), by section name.

        A thread too long for the context is summarized in parts (notes) first; long paths are aliased on the
        way in and restored on the way out, so the model cannot garble them."""
        amap = AliasMap()
        header = amap.alias(_header(bug))
        units = [amap.alias(u) for u in _thread_units(bug)]
        final_room = min(self._room(FINAL[k], bug.id, self.final_tokens) for k in kinds) - self._count(header) - 4
        map_room = self._room(MAP, bug.id, self.note_tokens)
        if min(final_room, map_room) < 32:
            raise ValueError(f"llm.context_tokens={self.llm.context_tokens} leaves no room to summarize bug {bug.id}")
        material = "\n\n".join(units)
        if self._count(material) > final_room:
            material = self._condense(bug.id, units, map_room, final_room)
        out = {}
        for kind in kinds:
            prompt = FINAL[kind].format(id=bug.id, text=f"{header}\n\n{material}")
            out[kind] = amap.restore(self._complete(f"final:{kind}", prompt, self.final_tokens).strip())
        return out

    # -- map and reduce ------------------------------------------------------------------------------
    def _condense(self, bug_id: str, units: list[str], map_room: int, final_room: int) -> str:
        chunks = self._pack(units, map_room)
        self.run.chunks = len(chunks)
        notes = [self._complete("map", MAP.format(part=i, parts=len(chunks), id=bug_id, text=c), self.note_tokens)
                 for i, c in enumerate(chunks, 1)]
        self.run.levels = 1
        reduce_room = self._room(REDUCE, bug_id, self.note_tokens)
        while self._count("\n\n".join(notes)) > final_room:
            before = self._count("\n\n".join(notes))
            groups = self._pack(notes, reduce_room)
            notes = [self._complete("reduce", REDUCE.format(id=bug_id, text=g), self.note_tokens) for g in groups]
            self.run.levels += 1
            if self._count("\n\n".join(notes)) >= before or self.run.levels > 8:
                # a model that does not shorten: cut the notes so the final prompt still fits
                share = max(8, final_room // max(1, len(notes)) - 2)
                notes = [self._split(n, share)[0] for n in notes]
                notes = self._pack(notes, final_room)[:1]
        return "\n\n".join(notes)

    def _pack(self, units: list[str], room: int) -> list[str]:
        """Greedily join units into chunks of at most ``room`` tokens; oversize units are split first."""
        pieces = [p for u in units for p in (self._split(u, room) if self._count(u) > room else [u])]
        chunks: list[str] = []
        for piece in pieces:
            joined = f"{chunks[-1]}\n\n{piece}" if chunks else piece
            if chunks and self._count(joined) <= room:
                chunks[-1] = joined
            else:
                chunks.append(piece)
        return chunks

    def _split(self, text: str, room: int) -> list[str]:
        """Cut text into pieces of at most ``room`` tokens, at line or word breaks where possible."""
        pieces = []
        while self._count(text) > room:
            lo, hi = 1, len(text)
            while lo < hi:  # the longest prefix that fits
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if self._count(text[:mid]) <= room else (lo, mid - 1)
            cut = max(text.rfind("\n", 0, lo), text.rfind(" ", 0, lo))
            cut = cut if cut > lo // 2 else lo
            pieces.append(text[:cut].rstrip())
            text = text[cut:].lstrip()
        return pieces + ([text] if text else [])

    # -- prompts ---------------------------------------------------------------------------------------
    def _complete(self, stage: str, prompt: str, max_tokens: int) -> str:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
        used = self._prompt_tokens(messages)
        if used + max_tokens > self.llm.context_tokens:
            raise ContextOverflowError(f"{stage} prompt of {used} tokens + {max_tokens} for the answer exceeds "
                                       f"the model's context of {self.llm.context_tokens} tokens")
        self.run.prompts.append((stage, used))
        return self.llm.complete(messages, max_tokens=max_tokens)

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return sum(self._count(m["content"]) + PER_MESSAGE_TOKENS for m in messages) + PER_MESSAGE_TOKENS

    def _room(self, template: str, bug_id: str, answer_tokens: int) -> int:
        """Tokens left for thread text in a prompt built from ``template``."""
        fixed = template.format(part=999, parts=999, id=bug_id, text="")
        overhead = self._prompt_tokens([{"role": "system", "content": SYSTEM}, {"role": "user", "content": fixed}])
        return self.llm.context_tokens - answer_tokens - overhead - self.margin

    def _count(self, text: str) -> int:
        return int(self.llm.count_tokens(text))


def summarize_bug(bot: Any, bug_id: str, *, kind: str = "all", bugs_file: str | Path | None = None,
                  user_groups: Iterable[str] | str | None = None) -> BugSummary:
    """Summarize one bug visible to ``user_groups`` (None: public only; see the module docstring).

    Raises:
        ValueError: ``kind`` is not technical, managerial, assignment or all.
        UnknownBugError (a KeyError): no such bug; the message lists the nearest ids.
        corpora.bugs.BugExportError: ``bugs_file`` is missing or not a bug export.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    bugs, where, warnings = _load_bugs(bot, bugs_file, user_groups)
    bug = find_bug(bugs, bug_id, where)
    summary = BugSummary(bug_id=bug.id, kind=kind, warnings=warnings, retrieval_only=True, acl=bug.acl)
    text_kinds = ["technical", "managerial"] if kind == "all" else [kind] if kind != "assignment" else []
    if text_kinds:
        _write_sections(bot, bug, text_kinds, summary)
    if kind in ("assignment", "all"):
        ranker = OwnerRanker.from_bugs(bugs, cache_db=bot.settings.bugs_db)
        summary.assignment = ranker.rank(bug)
        summary.acl = strictest(bug.acl, *(b.acl for b in ranker.history))
        summary.sections["assignment"] = format_ranking(summary.assignment)
    return summary


def _write_sections(bot: Any, bug: BugRecord, kinds: list[str], summary: BugSummary) -> None:
    llm = bot.llm
    if llm is None:
        summary.sections["digest"] = bug_digest(bug)
        summary.warnings.append("no LLM configured (backend none): a deterministic digest instead of a written summary")
        return
    try:
        written = HierarchicalSummarizer(llm).summarize(bug, kinds)
        summary.sections.update({"facts": key_facts(bug), **written})
    except ContextOverflowError:
        raise
    except Exception as e:  # a failing server or model: still give the engineer the facts
        summary.sections["digest"] = bug_digest(bug)
        summary.warnings.append(f"LLM failed ({type(e).__name__}: {e}); a deterministic digest instead")
        return
    summary.backend, summary.model, summary.retrieval_only = llm.name, llm.model, False


def _load_bugs(bot: Any, bugs_file: str | Path | None, user_groups: Iterable[str] | str | None
               ) -> tuple[list[BugRecord], str, list[str]]:
    """The bugs ``user_groups`` may see, where they came from, and problems of an export file."""
    if bugs_file is not None:
        export = load_bug_export(bugs_file)
        problems = list(export.problems)
        records = [b for b in with_acls(export.records, bugs_file, problems=problems) if visible(b.acl, user_groups)]
        warnings = problems[:10]
        if len(problems) > 10:
            warnings.append(f"... and {len(problems) - 10} more problems in {bugs_file}")
        return records, str(bugs_file), warnings
    store = BugStore(bot.settings.bugs_db)
    return store.all(user_groups), str(store.db_path), []


def _header(bug: BugRecord) -> str:
    """Title and fields: the part of `bug_to_text` before the description, kept in every final prompt."""
    return bug_to_text(bug.model_copy(update={"description": "", "comments": []}))


def _thread_units(bug: BugRecord) -> list[str]:
    units = [f"Description:\n{bug.description.strip()}"] if bug.description.strip() else []
    units += [f"[{c.date or 'no date'}] {c.author or 'unknown'}: {c.text.strip()}" for c in bug.comments]
    return units
