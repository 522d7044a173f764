"""The engineer's chat page: a Chainlit app over `assistant.service.Assistant`, presentation only.

    chipassist ui --index .chipassist/index          # http://127.0.0.1:8000 (see assistant/cli/client_cmds.py)

One chat profile per job profile in the registry (`assistant.jobs`: Ask, Tcl script, Bug summary, ...), and
one dispatch for all of them: the message becomes the job's request (``Job.from_text``), the settings
panel's options (k, backend, reranker) go into it, the service runs it (streamed where the job streams)
over ONE shared index and one loaded model per backend, and ``Job.render_markdown`` shows the result.
Sources are side elements; every answer is logged in feedback.sqlite so the thumbs up/down and comments
Chainlit sends attach to it; chats persist in chat_history.sqlite (ui/history.py). Settings come from
`load_settings()` ($CHIPASSIST_CONFIG, $CHIPASSIST_INDEX, $CHIPASSIST_DATA_DIR, which `chipassist ui` sets),
or, mounted in `chipassist serve --ui`, from the process's shared Assistant (`Assistant.shared`).
"""
from __future__ import annotations

import asyncio
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

import chainlit as cl
from chainlit.input_widget import Select, Slider, Switch

from assistant.feedback import FeedbackStore
from assistant.jobs import Job, JobInputError, Upload, profiles
from assistant.jobs.render import inline, too_long
from assistant.service import Assistant
from assistant.types import Source
from ui.history import SQLiteDataLayer

# The process's one Assistant (one index, one model per backend) for every user and every option they pick,
# shared with the API and the Slack bot when `chipassist serve --ui` runs them together; on its own
# (`chipassist ui`) the first call creates it from load_settings().
BOT = Assistant.shared()
SETTINGS = BOT.settings
FEEDBACK = FeedbackStore(SETTINGS.feedback_db)
PROFILES = profiles()
DEFAULT_PROFILE = next((jobs[0].profile for jobs in PROFILES.values() if any(j.default_profile for j in jobs)),
                       next(iter(PROFILES)))
HISTORY_TURNS = 6  # earlier question/answer pairs sent along for follow-up questions
OPTIONS = ("k", "backend", "rerank")  # settings panel -> request fields of the same name


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
    """The signed-in user's ACL groups (None: public documents only; `visible` always allows those)."""
    user = cl.user_session.get("user")
    groups = (user.metadata or {}).get("groups") if user else None
    return set(groups) if groups else None


# -- session: profiles and settings ---------------------------------------------------------------------
@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None = None) -> list[cl.ChatProfile]:
    """One profile per job profile in the registry; its description joins its jobs' descriptions."""
    return [cl.ChatProfile(name=name, markdown_description=" ".join(j.description for j in jobs),
                           default=name == DEFAULT_PROFILE) for name, jobs in PROFILES.items()]


@lru_cache(maxsize=1)
def _has_reranker() -> bool:
    """Whether the index was built with a cross-encoder (`rerank=True` fails without one)."""
    try:
        return BOT.index.config.reranker is not None  # the index's own, or retrieval.reranker_path
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
    """A new chat: send the settings panel and start an empty history."""
    await _send_settings()
    cl.user_session.set("history", [])


@cl.on_chat_resume
async def resume(thread: dict[str, Any]) -> None:
    """A chat reopened from the history: send the settings panel and restore its last turns as history."""
    await _send_settings()
    turns = [s for s in thread.get("steps", []) if s.get("type") in ("user_message", "assistant_message")]
    history = [{"role": "user" if s["type"] == "user_message" else "assistant", "content": s.get("output", "")}
               for s in turns]
    cl.user_session.set("history", history[-2 * HISTORY_TURNS:])


@cl.on_settings_update
async def settings_update(values: dict[str, Any]) -> None:
    """Keep the settings panel's values (k, backend, reranker) for this user's next requests."""
    cl.user_session.set("prefs", {**(cl.user_session.get("prefs") or {}), **values})


def _with_options(job: Job, request, history: list[dict[str, str]]):
    """``request`` with the settings panel's options and the chat history, for the fields the job has."""
    prefs = cl.user_session.get("prefs") or {}
    fields = type(request).model_fields
    update: dict[str, Any] = {name: prefs[name] for name in OPTIONS if name in fields and prefs.get(name) is not None}
    if "k" in update:
        update["k"] = int(update["k"])
    if "rerank" in update:
        update["rerank"] = bool(update["rerank"])
    if "history" in fields:
        update["history"] = history[-2 * HISTORY_TURNS:]
    # validated again: a value the panel sends must not bypass the request model
    return type(request).model_validate({**request.model_dump(), **update})


# -- presentation helpers -------------------------------------------------------------------------------
def _source_elements(sources: list[Source]) -> list[cl.Text]:
    # Snippets are raw passages (Markdown headings, Tcl, Verilog): shown verbatim, never rendered. Chainlit links
    # a side element only where its name is in the message: the footer names passages by path and a script's
    # help and examples by title (assistant.jobs.render.sources_footer).
    return [cl.Text(name=f"[{s.n}] {s.title if s.is_context else s.path}", display="side", language="text",
                    content=f"{s.where()} — {s.title}\n\n{s.snippet}") for s in sources]


async def _reply(content: str, mode: str, record: dict[str, Any] | None = None,
                 elements: list | None = None) -> cl.Message:
    """Send a finished reply; answers (``record``) are logged so feedback can attach to the message id."""
    msg = cl.Message(content=content, elements=elements or [])
    await msg.send()
    if record is not None:
        await _log(msg, record, mode)
    return msg


async def _log(msg: cl.Message, record: dict[str, Any], mode: str) -> None:
    """Log the answer under the message id (a SQLite write: off the event loop, which serves every user)."""
    user = cl.user_session.get("user")
    await asyncio.to_thread(FEEDBACK.record_answer, record, client="ui", user=user.identifier if user else "",
                            mode=mode, external_ref=msg.id)


# -- one dispatch for every job -------------------------------------------------------------------------
_DONE = object()


async def _result(job: Job, request, msg: cl.Message):
    """Run the job for this user (streaming its text into ``msg`` where the job streams); return the result."""
    if job.stream is None:
        return await asyncio.to_thread(BOT.run, job.name, request, user_groups=_groups())
    stream = BOT.stream(job.name, request, user_groups=_groups())
    while (item := await asyncio.to_thread(next, stream, _DONE)) is not _DONE:
        if isinstance(item, str):
            await msg.stream_token(item)
        else:
            return item
    raise RuntimeError(f"the {job.name} stream ended without a result")


async def run_job(job: Job, text: str, uploads: list[Upload]) -> None:
    """Turn the message into ``job``'s request, run it, show and log the result."""
    mode = job.log_mode
    if len(text) > job.max_chars:
        await _reply(too_long(len(text), job.max_chars, f"a message for {job.title}") +
                     " Send the relevant part (a register, a signal, an error line).", mode)
        return
    history = cl.user_session.get("history") or []
    try:
        request = _with_options(job, job.from_text(text, uploads), history)
    except JobInputError as e:
        await _reply(str(e), mode)
        return
    msg = cl.Message(content="")
    try:
        result = await _result(job, request, msg)
    except Exception as e:
        explained = job.explain_error(e, BOT) if job.explain_error else None
        if explained is None:
            raise
        await _reply(explained, mode)
        return
    sources = list(getattr(result, "sources", None) or [])
    msg.content = job.render_markdown(result)
    msg.elements = [*(cl.File(name=name, content=body.encode(), display="inline", mime="text/plain")
                      for name, body in (job.downloads(result) if job.downloads else [])),
                    *_source_elements(sources)]
    await msg.send()
    record = job.feedback(result)
    if record is not None:
        await _log(msg, record, mode)
    if "history" in type(request).model_fields:
        answer = getattr(result, "text", "")
        history += [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]
        cl.user_session.set("history", history[-2 * HISTORY_TURNS:])


def _uploads(message: cl.Message) -> list[Upload]:
    # Chainlit keeps uploads under a random path; replies name the file as the engineer knows it.
    return [Upload(name=e.name or Path(e.path).name, path=Path(e.path))
            for e in (message.elements or []) if getattr(e, "path", None)]


@cl.on_message
async def on_message(message: cl.Message) -> None:
    """Route a message (and its uploads) to the first job of the chat profile that takes it, and answer."""
    profile = cl.user_session.get("chat_profile") or DEFAULT_PROFILE
    jobs = PROFILES.get(profile) or PROFILES[DEFAULT_PROFILE]
    mode = jobs[0].log_mode
    text = (message.content or "").strip()
    uploads = _uploads(message)
    try:
        if uploads and all(j.uploads == "none" for j in jobs):
            takers = [name for name, js in PROFILES.items() if any(j.uploads != "none" for j in js)]
            await _reply("Uploads are read in the " + " and ".join(f"**{inline(t)}**" for t in takers) +
                         " mode" + ("s" if len(takers) > 1 else "") + "; switch in the profile menu to use a "
                         "file. The file was not used.", mode)
            uploads = []
            if not text:
                return
        importer = next((j for j in jobs if j.uploads == "import" and j.import_upload), None)
        if uploads and importer is not None:
            for upload in uploads:
                await _reply(await asyncio.to_thread(importer.import_upload, BOT, upload), importer.log_mode)
            uploads = []
            if not text:
                return
        # the first of the profile's jobs that takes the message (an empty one gets the last job's usage hint)
        await run_job(next((j for j in jobs if j.takes(text, uploads)), jobs[-1]), text, uploads)
    except Exception as e:  # the page must never die on one bad request; say what happened
        cl.logger.exception("request failed")
        await _reply(f"Sorry, that request failed: {type(e).__name__}: {e}", mode)
