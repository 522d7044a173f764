"""Grounded Q&A: retrieve, prompt with numbered sources, call the LLM, return an answer citing [n].

    from assistant.qa import answer_from_hits, answer_question, stream_answer
    answer = answer_question(bot, "How is the UART baud rate set?", user_groups={"silicon-team"})
    answer = answer_from_hits(bot, question, hits)   # hits a job retrieved itself (caller's groups applied)
    for item in stream_answer(bot, question):   # text pieces, then the final Answer
        ...

`bot` is an `assistant.service.Assistant` (it gives `bot.index`, `bot.llm` and `bot.settings`). With no LLM
(the `none` backend) the answer is the most relevant passages, labelled as retrieval-only. If the LLM fails
(server down, timeout) the answer falls back to retrieval-only with a warning instead of raising. Citations
to sources that do not exist are removed with a warning; streamed pieces always join to the final text.
When the model says the sources do not cover the question but a source matches it strongly (it names every
name of the question and most of its words: :func:`strong_matches`), the closest passages follow the
model's words under ``CLOSEST_LABEL``, so a small model's false abstention does not hide the answer.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from assistant.citations import ABSTENTION, CitationFilter, attribution_note, content_terms
from assistant.llm.errors import LLMError
from assistant.prompts import FOCUS_CHARS, SYSTEM_PROMPT, Prompt, build_prompt
from assistant.types import Answer, Source
from corpora.types import reader_groups
from retriever.types import SearchHit

MAX_QUESTION_CHARS = 4000  # longer questions (pasted logs) are cut, with a warning
RETRIEVAL_QUERY_CHARS = 1000  # the embedder sees ~256 tokens anyway; BM25 gains nothing from more
SNIPPET_CHARS = 300
RETRIEVAL_ONLY = "Retrieval-only answer (no LLM configured): the most relevant passages are below."
LLM_DOWN = "Retrieval-only answer (the LLM is unavailable): the most relevant passages are below."
CLOSEST_WARNING = "the model said the sources do not cover this, though a source matches the question closely"
NO_SOURCES = ("No passage in the index matches this question (among those you may see), "
              "so there is nothing to answer from.")
CLOSEST_LABEL = "The model found no direct answer; the closest passages:"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Words of a question that say nothing about its topic (besides citations._STOP's).
_ASKING = frozenset("how does why who whom whose where get got want need tell mean means meaning happen".split())
# A name or value: a digit, an underscore or an inner dot (BAUD_DIV, CTRL.EN, 0x4000), or 2+ capitals (DMA).
_NAME = re.compile(r"^(?=.*(?:\d|_|\w\.\w|[A-Z].*[A-Z]))[\w.]+$")
STRONG_SHARE = 2 / 3  # of the question's other content words that a strong match must contain
_WORD = re.compile(r"\w{3,}")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s")
# A follow-up leans on the previous turn: a pronoun or "what about ...", or too few words to stand alone.
_FOLLOW_UP = re.compile(r"^\s*(and|but|also|what about|how about)\b|\b(it|its|this|that|these|those|they|them|"
                        r"their|there|same|above|previous|former|latter)\b", re.IGNORECASE)


@dataclass
class _Retrieved:
    """A checked question and what retrieval found for it, before any LLM is involved."""

    question: str
    hits: list[SearchHit]
    history: list[dict[str, str]]
    warnings: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)


# -- retrieval ------------------------------------------------------------------------------------

def search(bot, query: str, *, k: int | None = None, user_groups: Iterable[str] | None = None,
           **kw) -> list[SearchHit]:
    """Top-k chunks for ``query`` visible to ``user_groups`` (None = public only), with configured defaults."""
    query = _CONTROL.sub("", query or "").strip()
    if not query:
        raise ValueError("query is empty: ask about a block, signal, register, command or bug")
    retrieval = bot.settings.retrieval
    kw.setdefault("mode", retrieval.mode)
    kw.setdefault("rerank", retrieval.rerank)
    groups = reader_groups(user_groups)
    hits = bot.index.search(query[:RETRIEVAL_QUERY_CHARS], k=k or retrieval.k, user_groups=groups, **kw)
    # The index filters by ACL already; checking again here costs nothing and guards every client.
    return [h for h in hits if h.chunk.visible_to(groups)]


def _check_question(question: str) -> tuple[str, list[str]]:
    text = _CONTROL.sub("", question or "").strip()
    if not text:
        raise ValueError("question is empty: ask about a block, signal, register, command or bug")
    if len(text) > MAX_QUESTION_CHARS:
        return text[:MAX_QUESTION_CHARS], [f"the question was {len(text):,} characters; only the first "
                                           f"{MAX_QUESTION_CHARS:,} were used"]
    return text, []


def _check_history(history: list[dict[str, str]] | None) -> list[dict[str, str]]:
    turns = []
    for i, turn in enumerate(history or []):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant") \
                or not isinstance(turn.get("content"), str):
            raise ValueError(f"history[{i}]: expected {{'role': 'user' | 'assistant', 'content': str}}")
        turns.append({"role": turn["role"], "content": turn["content"]})
    return turns


def is_follow_up(question: str) -> bool:
    """Whether retrieval for ``question`` should also use the previous question's words."""
    return bool(_FOLLOW_UP.search(question)) or len(_WORD.findall(question)) <= 2


def _retrieve(bot, question: str, k: int | None, user_groups, history) -> _Retrieved:
    question, warnings = _check_question(question)
    turns = _check_history(history)
    # A follow-up ("and its reset value?") needs the previous question's words to find anything; a question
    # that stands alone ("What is DMA-E1?" after a UART question) must not be pulled towards the old topic.
    previous = next((t["content"] for t in reversed(turns) if t["role"] == "user"), "")
    query = f"{previous[:RETRIEVAL_QUERY_CHARS // 2]}\n{question}" if previous and is_follow_up(question) else question
    hits = search(bot, query, k=k, user_groups=user_groups)
    return _Retrieved(question, hits, turns, warnings)


# -- sources and the retrieval-only answer --------------------------------------------------------
def make_snippet(text: str, query: str, limit: int = SNIPPET_CHARS) -> str:
    """About ``limit`` characters of ``text``: the sentence-aligned window with the most query words."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    terms = {w.lower() for w in _WORD.findall(query)}
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(flat)]
    start = max(starts, key=lambda s: (len(terms & {w.lower() for w in _WORD.findall(flat[s:s + limit])}), -s))
    window = flat[start:start + limit]
    if start + limit < len(flat):
        window = window[:window.rfind(" ")] if " " in window else window
        window += " …"
    return ("… " if start else "") + window


def to_sources(hits: list[SearchHit], query: str) -> list[Source]:
    """The hits as numbered sources [1..n], each with a snippet around the query's words and its location."""
    return [Source(n=i, chunk_id=h.chunk.id, path=h.chunk.source, title=h.chunk.title,
                   snippet=make_snippet(h.chunk.text, query), score=round(float(h.score), 4), kind=h.chunk.kind,
                   start_line=h.chunk.start_line, end_line=h.chunk.end_line, acl=list(h.chunk.acl),
                   location=h.chunk.location)
            for i, h in enumerate(hits, 1)]


def retrieval_only_text(sources: list[Source], label: str = RETRIEVAL_ONLY) -> str:
    """The answer without an LLM: ``label``, then each source as "[n] where — title" and its snippet."""
    if not sources:
        return NO_SOURCES
    passages = [f"[{s.n}] {s.where()} — {s.title}\n{s.snippet}" for s in sources]
    return "\n\n".join([label, *passages])


def strong_matches(question: str, hits: list[SearchHit]) -> list[int]:
    """Ranks (1-based) of the hits that match ``question`` strongly: the hit's text contains every name or
    value of the question (``BAUD_DIV``, ``DMA``, ``9600``) and at least 2/3 of its other content words (two at
    least). Set from what an answerable question looks like, not tuned on answers: an off-topic question
    ("reset value of WARP_CTRL in flux_capacitor") fails on its names, an everyday one on its words."""
    raw = [w.rstrip(".?!,;:") for w in question.split()]
    names = {w.lower() for w in raw if _NAME.match(w)}
    words = content_terms(question) - _ASKING
    names &= words | {n for n in names if n[:1].isdigit()}
    others = words - names
    if len(words) < 2:
        return []
    matched = []
    for rank, hit in enumerate(hits, 1):
        text = hit.chunk.text.lower()
        terms = content_terms(hit.chunk.text)
        if all(n in terms or n in text for n in names) \
                and len(others & terms) >= max(min(2, len(others)), STRONG_SHARE * len(others)):
            matched.append(rank)
    return matched


def closest_block(r: _Retrieved, text: str) -> str:
    """For a model answer that says the sources do not cover the question while a source matches it
    strongly: the block of closest passages to append after it (CLOSEST_LABEL, then the sources as the
    retrieval-only answer shows them), else ""."""
    if not r.hits or not ABSTENTION.search(text) or not strong_matches(r.question, r.hits):
        return ""
    return "\n\n" + retrieval_only_text(to_sources(r.hits, r.question), CLOSEST_LABEL)


def _retrieval_only(r: _Retrieved, *, label: str = RETRIEVAL_ONLY, backend: str = "none", model: str = "",
                    warnings: list[str] = ()) -> Answer:
    sources = to_sources(r.hits, r.question)
    extra = [] if sources else ["no sources found for this question"]
    return Answer(question=r.question, text=retrieval_only_text(sources, label), sources=sources, backend=backend,
                  model=model, retrieval_only=True, latency_ms=_ms(r.started),
                  warnings=[*r.warnings, *warnings, *extra])


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


# -- the LLM path ---------------------------------------------------------------------------------
def _prompt(bot, llm, r: _Retrieved) -> tuple[Prompt, int]:
    """The grounded prompt for ``r`` and the number of new tokens to ask for."""
    context = llm.context_tokens
    max_new = min(bot.settings.llm.max_new_tokens, context // 2)
    budget = prompt_budget(llm, bot.settings.llm)
    if budget:  # a CPU model: the prompt's size is the time to the first token
        context = min(context, budget + max_new)
    try:
        prompt = build_prompt(r.question, r.hits, count_tokens=llm.count_tokens, context_tokens=context,
                              max_new_tokens=max_new, history=r.history, focus_chars=FOCUS_CHARS if budget else None)
    except ValueError as e:
        if budget and context < llm.context_tokens:  # the budget, not the model's context, left no room
            raise ValueError(f"llm.prompt_tokens={budget} leaves no room for sources after the system prompt "
                             f"({llm.count_tokens(SYSTEM_PROMPT)} tokens of {llm.model}): raise it") from e
        raise
    r.hits = r.hits[:prompt.n_sources]  # the sources shown are exactly the ones the model saw
    r.warnings.extend(prompt.warnings)
    return prompt, max_new


def prompt_budget(llm, config) -> int | None:
    """The prompt's token budget: llm.prompt_tokens, else the backend's own default (CPU backends have one)."""
    return config.prompt_tokens or getattr(llm, "default_prompt_tokens", None)


def _model_name(llm) -> str:
    try:
        return llm.model
    except LLMError:
        return ""


def _fallback(r: _Retrieved, llm, error: LLMError) -> Answer:
    return _retrieval_only(r, label=LLM_DOWN, backend=llm.name, model=_model_name(llm),
                           warnings=[f"LLM failed, showing passages instead: {error}"])


def _llm_answer(r: _Retrieved, llm, text: str, checker: CitationFilter, warnings: list[str] = ()) -> Answer:
    return Answer(question=r.question, text=text, sources=to_sources(r.hits, r.question), backend=llm.name,
                  model=_model_name(llm), latency_ms=_ms(r.started),
                  warnings=[*r.warnings, *checker.warnings(), *warnings])


def _attribution(r: _Retrieved, checker: CitationFilter, text: str) -> tuple[str, str | None]:
    """For an answer that cites nothing: the sentence -> source block to append, and a warning."""
    if checker.cited or not r.hits:
        return "", None
    return attribution_note(text, [h.chunk.text for h in r.hits])


def answer_question(bot, question: str, *, k: int | None = None, user_groups: Iterable[str] | None = None,
                    history: list[dict[str, str]] | None = None) -> Answer:
    """Answer ``question`` from the index, citing [n]; retrieval-only with no LLM or when the LLM fails.

    Raises ValueError for an empty question or malformed history.
    """
    return _answer(bot, _retrieve(bot, question, k, user_groups, history))


def answer_from_hits(bot, question: str, hits: list[SearchHit], *, label: str = RETRIEVAL_ONLY,
                     warnings: list[str] = ()) -> Answer:
    """Answer ``question`` from ``hits`` another job retrieved (with the caller's groups applied), citing
    [n] in their order; retrieval-only (``label`` above the passages) with no LLM or when the LLM fails.

    For jobs that search several times (log triage: one search per message) and share Q&A's prompt,
    citation checks and fallbacks. Raises ValueError for an empty question."""
    question, cut = _check_question(question)
    return _answer(bot, _Retrieved(question, list(hits), [], [*cut, *warnings]), label=label)


def _answer(bot, r: _Retrieved, label: str = RETRIEVAL_ONLY) -> Answer:
    llm = bot.llm
    if llm is None or not r.hits:
        return _retrieval_only(r, label=label, backend=llm.name if llm else "none")
    try:
        prompt, max_new = _prompt(bot, llm, r)
        text = llm.complete(prompt.messages, max_tokens=max_new)
    except LLMError as e:
        return _fallback(r, llm, e)
    checker = CitationFilter(prompt.n_sources)
    text = checker.feed(text.lstrip()) + checker.flush()
    closest = closest_block(r, text)
    if closest:
        return _llm_answer(r, llm, text + closest, checker, [CLOSEST_WARNING])
    note, warning = _attribution(r, checker, text)
    return _llm_answer(r, llm, text + note, checker, [warning] if warning else [])


def stream_answer(bot, question: str, *, k: int | None = None, user_groups: Iterable[str] | None = None,
                  history: list[dict[str, str]] | None = None) -> Iterator[str | Answer]:
    """Yield the answer's text pieces as they are generated, then the final Answer (whose text they join to)."""
    r = _retrieve(bot, question, k, user_groups, history)
    llm = bot.llm
    if llm is None or not r.hits:
        answer = _retrieval_only(r, backend=llm.name if llm else "none")
        yield answer.text
        yield answer
        return
    pieces: list[str] = []
    warnings: list[str] = []
    started = False  # leading whitespace is dropped, as answer_question does
    try:
        prompt, max_new = _prompt(bot, llm, r)
        checker = CitationFilter(prompt.n_sources)
        for piece in llm.stream(prompt.messages, max_tokens=max_new):
            if not started:
                piece = piece.lstrip()
                started = bool(piece)
            shown = checker.feed(piece)
            if shown:
                pieces.append(shown)
                yield shown
    except LLMError as e:
        if not pieces:
            answer = _fallback(r, llm, e)
            yield answer.text
            yield answer
            return
        warnings.append(f"the LLM stopped mid-answer: {e}")
    tail = checker.flush()
    if warnings:
        tail += "\n\n[answer cut short: the LLM failed]"
    elif closest := closest_block(r, "".join(pieces) + tail):
        tail += closest
        warnings.append(CLOSEST_WARNING)
    else:
        note, warning = _attribution(r, checker, "".join(pieces) + tail)
        tail += note
        warnings += [warning] if warning else []
    if tail:
        pieces.append(tail)
        yield tail
    yield _llm_answer(r, llm, "".join(pieces), checker, warnings)
