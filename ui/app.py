"""The engineer's chat page: a Chainlit app over `assistant.service.Assistant`, presentation only.

    chipassist ui --index .chipassist/index          # http://127.0.0.1:8000 (see assistant/cli/client_cmds.py)

Three chat profiles (Ask, Tcl script, Bug summary); answers stream; sources are side elements; every answer
is logged in feedback.sqlite so the thumbs up/down and comments Chainlit sends attach to it; chats persist
in chat_history.sqlite (ui/history.py). Settings come from `load_settings()` ($CHIPASSIST_CONFIG,
$CHIPASSIST_INDEX, $CHIPASSIST_DATA_DIR, which `chipassist ui` sets).
"""
from __future__ import annotations

import asyncio
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

import chainlit as cl
from chainlit.input_widget import Select, Slider, Switch

from assistant.config import LLMConfig, load_settings
from assistant.feedback import FeedbackStore
from assistant.qa import MAX_QUESTION_CHARS
from assistant.service import Assistant
from assistant.types import Answer, BugSummary, CheckResult, Source, TclGeneration
from ui.history import SQLiteDataLayer

SETTINGS = load_settings()
FEEDBACK = FeedbackStore(SETTINGS.feedback_db)
ASK, TCL, BUG = "Ask", "Tcl script", "Bug summary"
MODES = {ASK: "ask", TCL: "tcl", BUG: "bug"}
HISTORY_TURNS = 6  # earlier question/answer pairs sent along for follow-up questions
MAX_SCRIPT_CHARS = 50_000  # a pasted Tcl script to check; flow scripts are a few KB
SUMMARY_KINDS = ("all", "technical", "managerial", "assignment")
_EXPORT_HELP = ("A bug export is JSON lines or a JSON list (one bug per record with at least `id` and `title`), "
                "CSV with a header row, or a GitHub issues JSON export.")
_TCL_FENCE = re.compile(r"```(?:tcl)?\s*\n(.*?)```", re.S)
_HEADING = re.compile(r"(?m)^(\s*)#")
_BUG_ID = re.compile(r"^[\w.#/-]{1,64}$")  # PICO-101, 1234, owner/repo#12


@lru_cache(maxsize=None)
def assistant_for(backend: str, rerank: bool) -> Assistant:
    """One Assistant per (backend, reranker) choice from the settings panel, created on first use."""
    llm = SETTINGS.llm if backend == SETTINGS.llm.backend else LLMConfig()
    retrieval = SETTINGS.retrieval.model_copy(update={"rerank": rerank})
    return Assistant(SETTINGS.model_copy(update={"llm": llm, "retrieval": retrieval}))


# -- authentication: users map to ACL groups ------------------------------------------------------------
def _user(name: str) -> cl.User:
    groups = SETTINGS.ui.users[name].groups if name in SETTINGS.ui.users else []
    return cl.User(identifier=name, metadata={"groups": groups, "provider": SETTINGS.ui.auth})


if SETTINGS.ui.auth == "password":
    @cl.password_auth_callback
    def password_login(username: str, password: str) -> cl.User | None:
        user = SETTINGS.ui.users.get(username)
        if user is None or user.password is None or not secrets.compare_digest(
                user.password.get_secret_value().encode(), (password or "").encode()):
            return None
        return _user(username)

elif SETTINGS.ui.auth == "header":
    @cl.header_auth_callback
    def header_login(headers) -> cl.User | None:
        # The proxy authenticated the user; names missing from ui.users get public documents only.
        name = headers.get(SETTINGS.ui.trusted_header)
        return _user(name) if name else None


if SETTINGS.ui.auth != "none":  # Chainlit keeps history only for authenticated users
    @cl.data_layer
    def history_layer() -> SQLiteDataLayer:
        return SQLiteDataLayer(SETTINGS.data_dir / "chat_history.sqlite", FEEDBACK)


def _groups() -> set[str] | None:
    user = cl.user_session.get("user")
    groups = (user.metadata or {}).get("groups") if user else None
    return set(groups) | {"public"} if groups else None


# -- session: profiles and settings ---------------------------------------------------------------------
@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None = None) -> list[cl.ChatProfile]:
    return [
        cl.ChatProfile(name=ASK, markdown_description="Questions about the design docs, RTL and flows.", default=True),
        cl.ChatProfile(name=TCL, markdown_description="Describe a task; get a checked yosys Tcl script, "
                       "or paste a script in a ```tcl block to check it."),
        cl.ChatProfile(name=BUG, markdown_description="Give a bug ID, or upload a bug export (JSONL, CSV, "
                       "GitHub issues JSON) to import it."),
    ]


@lru_cache(maxsize=1)
def _has_reranker() -> bool:
    """Whether the index was built with a cross-encoder (`rerank=True` fails without one)."""
    try:
        return assistant_for(SETTINGS.llm.backend, False).index.config.reranker is not None
    except Exception:  # a broken index shows up on the first question, with its own message
        return False


async def _send_settings() -> None:
    backends = sorted({"none", SETTINGS.llm.backend})
    has_reranker = await asyncio.to_thread(_has_reranker)
    values = await cl.ChatSettings([
        Slider(id="k", label="Number of sources", initial=SETTINGS.retrieval.k, min=1, max=20, step=1),
        Select(id="backend", label="Backend", values=backends, initial_value=SETTINGS.llm.backend,
               description="`none` answers with the retrieved passages only (no LLM)."),
        Switch(id="rerank", label="Reranker", initial=SETTINGS.retrieval.rerank and has_reranker,
               disabled=not has_reranker,
               description=None if has_reranker else "This index was built without a cross-encoder reranker."),
    ]).send()
    cl.user_session.set("prefs", values)


@cl.on_chat_start
async def start() -> None:
    await _send_settings()
    cl.user_session.set("history", [])


@cl.on_chat_resume
async def resume(thread: dict[str, Any]) -> None:
    await _send_settings()
    turns = [s for s in thread.get("steps", []) if s.get("type") in ("user_message", "assistant_message")]
    history = [{"role": "user" if s["type"] == "user_message" else "assistant", "content": s.get("output", "")}
               for s in turns]
    cl.user_session.set("history", history[-2 * HISTORY_TURNS:])


@cl.on_settings_update
async def settings_update(values: dict[str, Any]) -> None:
    cl.user_session.set("prefs", {**(cl.user_session.get("prefs") or {}), **values})


def _bot() -> tuple[Assistant, int]:
    prefs = cl.user_session.get("prefs") or {}
    bot = assistant_for(prefs.get("backend", SETTINGS.llm.backend), bool(prefs.get("rerank", SETTINGS.retrieval.rerank)))
    return bot, int(prefs.get("k", SETTINGS.retrieval.k))


# -- presentation helpers -------------------------------------------------------------------------------
def _source_elements(sources: list[Source]) -> list[cl.Text]:
    # Snippets are raw passages (Markdown headings, Tcl, Verilog): shown verbatim, never rendered.
    return [cl.Text(name=f"[{s.n}] {s.path}", display="side", language="text",
                    content=f"{s.path}:{s.start_line}-{s.end_line} — {s.title}\n\n{s.snippet}") for s in sources]


def _sources_footer(sources: list[Source]) -> str:
    if not sources:
        return ""
    lines = [f"- [{s.n}] {s.path} — {s.title}" for s in sources]
    return "\n\n**Sources**\n" + "\n".join(lines)


def _inline(text: str) -> str:
    """User-supplied text quoted inside a reply: one line, no backticks (it is shown, never rendered)."""
    return " ".join(text.replace("`", "'").split())


def _too_long(n: int, limit: int, what: str) -> str:
    return f"That message is {n:,} characters; {what} can be at most {limit:,}. Nothing was sent to the assistant."


def _warnings(warnings: list[str]) -> str:
    return "".join(f"\n\n> ⚠ {w}" for w in warnings)


def _check_text(check: CheckResult | None) -> str:
    if check is None:
        return ""
    lines = [f"**Check: {'passed ✅' if check.ok else 'failed ❌'}**"]
    lines += [f"- line {i.line}: syntax: {i.message}" for i in check.syntax]
    lines += [f"- line {i.line}: `{_inline(i.command)}`: {i.problem}" + (
        "" if not i.suggestion else f" ({_inline(i.suggestion)})" if i.problem == "unsafe"
        else f" (did you mean: {_inline(i.suggestion)})") for i in check.lint]
    run = check.run
    if run.ran:
        lines.append(f"- ran with {run.tool}: {'ok' if run.ok else 'errors'}")
        lines += [f"  - line {e.get('line')}: {e.get('message')}" for e in run.errors]
    elif run.skipped_reason:
        lines.append(f"- not run: {run.skipped_reason}")
    return "\n".join(lines)


async def _reply(content: str, mode: str, record: dict[str, Any] | None = None,
                 elements: list | None = None) -> cl.Message:
    """Send a finished reply; answers (``record``) are logged so feedback can attach to the message id."""
    msg = cl.Message(content=content, elements=elements or [])
    await msg.send()
    if record is not None:
        await _log(msg, record, mode)
    return msg


async def _log(msg: cl.Message, record: dict[str, Any] | Answer, mode: str) -> None:
    """Log the answer under the message id (a SQLite write: off the event loop, which serves every user)."""
    user = cl.user_session.get("user")
    await asyncio.to_thread(FEEDBACK.record_answer, record, client="ui", user=user.identifier if user else "",
                            mode=mode, external_ref=msg.id)


# -- the three modes ------------------------------------------------------------------------------------
_DONE = object()


async def ask(question: str) -> None:
    if len(question) > MAX_QUESTION_CHARS:
        await _reply(_too_long(len(question), MAX_QUESTION_CHARS, "a question") +
                     " Ask about the relevant part (a register, a signal, an error line).", "ask")
        return
    bot, k = _bot()
    history = cl.user_session.get("history") or []
    stream = bot.ask_stream(question, k=k, user_groups=_groups(), history=history[-2 * HISTORY_TURNS:])
    msg = cl.Message(content="")
    answer: Answer | None = None
    while (item := await asyncio.to_thread(next, stream, _DONE)) is not _DONE:
        if isinstance(item, Answer):
            answer = item
        else:
            await msg.stream_token(item)
    # Retrieval-only answers quote passages whose '#' lines would render as giant headings.
    text = _HEADING.sub(r"\1\\#", answer.text) if answer.retrieval_only else answer.text
    msg.content = text + _sources_footer(answer.sources) + _warnings(answer.warnings)
    msg.elements = _source_elements(answer.sources)
    await msg.send()
    await _log(msg, answer, "ask")
    history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
    cl.user_session.set("history", history[-2 * HISTORY_TURNS:])


async def tcl(task: str) -> None:
    bot, _ = _bot()
    pasted = _TCL_FENCE.search(task)
    if pasted:  # the engineer wants their own script checked
        script = pasted.group(1)
        if len(script) > MAX_SCRIPT_CHARS:
            await _reply(_too_long(len(script), MAX_SCRIPT_CHARS, "a pasted script"), "tcl")
            return
        check = await asyncio.to_thread(bot.tcl_check, script)
        text = f"```tcl\n{script}```\n\n{_check_text(check)}"
        await _reply(text, "tcl", {"question": task, "text": text, "backend": "none", "model": ""})
        return
    if len(task) > MAX_QUESTION_CHARS:
        await _reply(_too_long(len(task), MAX_QUESTION_CHARS, "a task description"), "tcl")
        return
    gen: TclGeneration = await asyncio.to_thread(bot.tcl_generate, task, user_groups=_groups())
    if gen.script is None:
        text = (gen.message or "No LLM is configured, so no script was written.") + \
            "\n\nCommand references for this task are listed below; paste a script in a ```tcl block to check it." \
            + _sources_footer(gen.sources)
        await _reply(text, "tcl", {"question": task, "text": text, "sources": [s.model_dump() for s in gen.sources],
                                   "backend": gen.backend, "model": gen.model}, _source_elements(gen.sources))
        return
    text = f"```tcl\n{gen.script.rstrip()}\n```\n\n{_check_text(gen.check)}" + _sources_footer(gen.sources)
    elements = [cl.File(name="script.tcl", content=gen.script.encode(), display="inline", mime="text/plain"),
                *_source_elements(gen.sources)]
    await _reply(text, "tcl", {"question": task, "text": gen.script, "sources": [s.model_dump() for s in gen.sources],
                               "backend": gen.backend, "model": gen.model}, elements)


async def bug(text: str, files: list) -> None:
    from corpora.bugs import BugExportError

    bot, _ = _bot()
    for f in files:
        # Chainlit keeps uploads under a random path; messages name the file as the engineer knows it.
        name = _inline(f.name)
        try:
            report = await asyncio.to_thread(bot.bugs_import, Path(f.path))
        except BugExportError as e:
            await _reply(f"**{name}** is not a bug export I can read: {_inline(str(e).replace(str(f.path), f.name))}"
                         f"\n\n{_EXPORT_HELP}", "bug")
            continue
        problems = "".join(f"\n- {_inline(p.replace(str(f.path), f.name))}" for p in report.problems[:10])
        more = f"\n- … and {len(report.problems) - 10} more" if len(report.problems) > 10 else ""
        if report.records == 0:
            await _reply(f"**{name}** has no bug records I can read, so nothing was imported.{problems}{more}"
                         f"\n\n{_EXPORT_HELP}", "bug")
            continue
        await _reply(f"Imported **{name}** ({report.format}): {report.inserted} new, {report.updated} updated, "
                     f"{report.unchanged} unchanged; {report.total_in_store} bugs stored.{problems}{more}", "bug")
    words = text.split()
    if not words:
        if not files:
            await _reply("Give a bug ID (e.g. `PICO-101`, optionally followed by technical, managerial or "
                         "assignment) or upload a bug export (JSONL, CSV or GitHub issues JSON).", "bug")
        return
    bug_id, kind = words[0], (words[1].lower() if len(words) > 1 else "all")
    if len(words) > 2 or not _BUG_ID.match(bug_id) or kind not in SUMMARY_KINDS:
        await _reply(f"`{_inline(text[:80])}` is not a bug request. Send a bug ID such as `PICO-101`, optionally "
                     f"followed by one of {', '.join(SUMMARY_KINDS)}; or upload a bug export.", "bug")
        return
    try:
        summary: BugSummary = await asyncio.to_thread(bot.bug_summary, bug_id, kind=kind, user_groups=_groups())
    except KeyError as e:  # UnknownBugError: its message names the store's path and a CLI hint; say it for a chat
        near = getattr(e, "near", None)
        if near:
            hint = "Did you mean " + ", ".join(f"`{_inline(i)}`" for i in near) + "?"
        elif "no bugs in" in str(e):
            hint = f"No bugs are imported yet: upload a bug export in this chat. {_EXPORT_HELP}"
        else:
            hint = _inline(str(e).replace(str(bot.settings.bugs_db), "the bug store"))
        await _reply(f"Unknown bug `{_inline(bug_id)}`. {hint}", "bug")
        return
    body = "\n\n".join(f"### {name.title()}\n{section}" for name, section in summary.sections.items())
    content = f"## {summary.bug_id}\n\n{body}{_warnings(summary.warnings)}"
    await _reply(content, "bug", {"question": bug_id, "text": content, "backend": summary.backend,
                                  "model": summary.model, "acl": summary.acl})


@cl.on_message
async def on_message(message: cl.Message) -> None:
    profile = cl.user_session.get("chat_profile") or ASK
    text = (message.content or "").strip()
    files = [e for e in (message.elements or []) if getattr(e, "path", None)]
    try:
        if files and profile != BUG:
            await _reply(f"Uploads are read in the **{BUG}** mode (bug exports); switch to it in the profile menu "
                         "to import a file. The file was not used.", MODES.get(profile, "ask"))
            if not text:
                return
        if profile == BUG:
            await bug(text, files)
        elif not text:
            await _reply("The message was empty: type a question" + (" or a task (or paste a script in a ```tcl "
                         "block)" if profile == TCL else "") + ".", MODES.get(profile, "ask"))
        elif profile == TCL:
            await tcl(text)
        else:
            await ask(text)
    except Exception as e:  # the page must never die on one bad request; say what happened
        cl.logger.exception("request failed")
        await _reply(f"Sorry, that request failed: {type(e).__name__}: {e}", MODES.get(profile, "ask"))
