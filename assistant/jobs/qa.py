"""The `ask` job (grounded Q&A, streaming) and the `search` job (ranked passages), over :mod:`assistant.qa`."""
from __future__ import annotations

from typing import Any

from assistant.jobs.base import Job, JobInputError, Upload, register
from assistant.jobs.render import no_headings, sources_footer, warnings_block
from assistant.types import Answer, AskRequest, SearchHitOut, SearchRequest, SearchResult


# -- ask -------------------------------------------------------------------------------------------
def _ask(bot, req: AskRequest, groups) -> Answer:
    from assistant.qa import answer_question

    return answer_question(bot, req.question, k=req.k, user_groups=groups, history=req.history)


def _ask_stream(bot, req: AskRequest, groups):
    from assistant.qa import stream_answer

    return stream_answer(bot, req.question, k=req.k, user_groups=groups, history=req.history)


def _answer_markdown(answer: Answer) -> str:
    # Retrieval-only answers quote passages whose '#' lines would render as giant headings.
    text = no_headings(answer.text) if answer.retrieval_only else answer.text
    return text + sources_footer(answer.sources) + warnings_block(answer.warnings)


def _answer_blocks(answer: Answer, source_url: str | None) -> str:
    from assistant.slack.format import format_answer

    return format_answer(answer, source_url)


def _question(text: str, uploads: list[Upload]) -> AskRequest:
    if not text.strip():
        raise JobInputError("The message was empty: type a question.")
    return AskRequest(question=text)


def _answer_record(answer: Answer) -> dict[str, Any]:
    return answer.model_dump(mode="json")


ASK = register(Job(
    name="ask", title="Ask", mode="ask",
    description="Questions about the design docs, RTL and flows, answered from the index with cited sources.",
    request=AskRequest, result=Answer, run=_ask, stream=_ask_stream,
    render_markdown=_answer_markdown, render_blocks=_answer_blocks, from_text=_question, feedback=_answer_record,
    cli=("ask",), profile="Ask", default_profile=True, slack_verb="ask",
    usage="ask QUESTION", max_chars=4000,
))


# -- search ------------------------------------------------------------------------------------------
def _search(bot, req: SearchRequest, groups) -> SearchResult:
    from assistant.qa import search

    hits = search(bot, req.query, k=req.k, user_groups=groups)
    return SearchResult(query=req.query, hits=[
        SearchHitOut(rank=h.rank, score=float(h.score), scores={k: float(v) for k, v in (h.scores or {}).items()},
                     id=h.chunk.id, source=h.chunk.source, title=h.chunk.title, kind=h.chunk.kind,
                     start_line=h.chunk.start_line, end_line=h.chunk.end_line,
                     location=h.chunk.location, text=h.chunk.text,
                     acl=list(h.chunk.acl)) for h in hits])


def _snippet(text: str, limit: int = 240) -> str:
    return " ".join(text.split())[:limit]


def _search_markdown(result: SearchResult) -> str:
    if not result.hits:
        return "No passage matches this query (among those you may see)."
    return "\n".join(f"{h.rank}. **{h.source}** — {h.title} (score {h.score:.3f})\n   {no_headings(_snippet(h.text))}"
                     for h in result.hits)


def _search_blocks(result: SearchResult, source_url: str | None) -> str:
    from assistant.slack.format import escape

    if not result.hits:
        return "No passage matches this query."
    return "\n".join(f"{h.rank}. `{escape(h.source)}` — {escape(h.title)}\n{escape(_snippet(h.text, 200))}"
                     for h in result.hits)


def _query(text: str, uploads: list[Upload]) -> SearchRequest:
    if not text.strip():
        raise JobInputError("The message was empty: type what to search for.")
    return SearchRequest(query=text)


SEARCH = register(Job(
    name="search", title="Search", mode="search",
    description="The passages of the index that best match a query (no LLM), only those the caller may see.",
    request=SearchRequest, result=SearchResult, run=_search,
    render_markdown=_search_markdown, render_blocks=_search_blocks, from_text=_query,
    feedback=lambda result: None,  # passages, not an answer: nothing to rate
    cli=("search",), usage="search QUERY", max_chars=4000,
))
