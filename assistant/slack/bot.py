"""The Bolt app: event, command and reaction handlers that call the service API and post in threads.

Handlers stay thin: parse the Slack payload, map the user to ACL groups, rate-limit, pick the job by its
verb from the registry (`assistant.jobs`: `ask` also takes verb-less text, `tcl`, `bug`, ...), turn the rest
of the message into its request (``Job.from_text``), run it through `Assistant.run`, render it with the job's
``render_blocks``, and log what the job's ``feedback`` records for reaction feedback.
Every reply that quotes a user, a document or an error goes through `format.escape`, and posts ask Slack
not to unfurl links, so nothing indexed can ping a channel or dress up a link.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from typing import Any, Callable

from slack_bolt import App
from slack_sdk import WebClient

from assistant.config import SlackConfig
from assistant.feedback import FeedbackStore
from assistant.jobs import JobInputError, all_jobs, get, slack_verbs
from assistant.slack.format import clean_user_text, escape, help_text

log = logging.getLogger("chipassist.slack")

_REACTIONS = {"+1": 1, "thumbsup": 1, "white_check_mark": 1, "-1": -1, "thumbsdown": -1, "x": -1}


class UnknownUser(Exception):
    """A Slack user the config does not map to groups (and unknown users are not allowed)."""

    pass


class RateLimiter:
    """Sliding one-minute window per user: protects the (possibly GPU-backed) LLM from one noisy user."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> float:
        """0 if the call is allowed (and counted), else seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] >= 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return 60 - (now - hits[0])
            hits.append(now)
            return 0.0


class SlackBot:
    """Routes Slack requests to the assistant. One instance per Bolt app."""

    def __init__(self, assistant: Any, config: SlackConfig, feedback: FeedbackStore) -> None:
        self.assistant = assistant
        self.config = config
        self.feedback = feedback
        self.limiter = RateLimiter(config.rate_limit_per_minute)

    def groups_for(self, user_id: str) -> set[str] | None:
        """The ACL groups of Slack user ``user_id``: configured ones, None (public only) when unknown
        users are allowed, else UnknownUser."""
        if user_id in self.config.users:
            return set(self.config.users[user_id])
        if self.config.allow_unknown_users:
            return None  # public documents only
        raise UnknownUser(user_id)

    def route(self, text: str, user_id: str) -> tuple[str, str, Any]:
        """Run one request; returns (mode, rendered mrkdwn, the job's result or None)."""
        try:
            groups = self.groups_for(user_id)
        except UnknownUser:
            return "error", (f"Sorry <@{user_id}>, your Slack account is not mapped to ChipAssist access groups. "
                             "Ask an admin to add it under `slack.users`."), None
        wait = self.limiter.retry_after(user_id)
        if wait:
            return "error", (f"You are sending more than {self.config.rate_limit_per_minute} requests a minute; "
                             f"please try again in {int(wait) + 1} s."), None
        text = clean_user_text(text)
        if not text or text.lower() in {"help", "?"}:
            return "help", help_text(), None
        verb, _, rest = text.partition(" ")
        job = slack_verbs().get(verb.lower())
        if job is None:  # no verb: a question
            job, rest = get("ask"), text
        if len(rest) > job.max_chars:
            return "error", (f"That message is {len(rest):,} characters; please keep {job.title.lower()} requests "
                             f"under {job.max_chars:,} (send the relevant part).") , None
        try:
            request = job.from_text(rest.strip(), [])
        except JobInputError as e:
            return "help", escape(str(e)), None
        try:
            result = self.assistant.run(job.name, request, user_groups=groups)
        except Exception as e:
            explained = job.explain_error(e, self.assistant) if job.explain_error else None
            if explained is None:
                raise
            return "error", escape(explained), None
        return job.log_mode, job.render_blocks(result, self.config.source_url), result

    def safe_route(self, text: str, user_id: str) -> tuple[str, str, Any]:
        """:meth:`route`, with any failure turned into a clear reply (the log keeps the trace)."""
        try:
            return self.route(text, user_id)
        except Exception as e:  # a clear reply beats a silent thread; the log keeps the trace
            log.exception("request failed")
            return "error", escape(f"Sorry, that failed: {type(e).__name__}: {e}"), None

    def log_answer(self, mode: str, result: Any, user: str, channel: str, ts: str) -> None:
        """Record what the job that made ``result`` logs (``Job.feedback``, with its ACL) under ``channel:ts``."""
        job = next((j for j in all_jobs() if isinstance(result, j.result)), None) if result is not None else None
        record = job.feedback(result) if job is not None else None
        if record is not None:
            self.feedback.record_answer(record, client="slack", user=user, mode=mode, external_ref=f"{channel}:{ts}")

    def on_reaction(self, event: dict[str, Any]) -> bool:
        """Record a thumbs up/down reaction on one of the bot's answers as feedback; False when the
        reaction is not a rating or not on an answer."""
        item = event.get("item") or {}
        rating = _REACTIONS.get((event.get("reaction") or "").split("::")[0])
        if item.get("type") != "message" or rating is None:
            return False
        answer_id = self.feedback.answer_id_for_ref(f"{item.get('channel')}:{item.get('ts')}")
        if answer_id is None:
            return False  # a reaction on someone else's message
        self.feedback.add_feedback(answer_id, rating, user=event.get("user", ""), comment=f":{event['reaction']}:")
        return True


def build_app(assistant: Any, config: SlackConfig | None = None, *, feedback: FeedbackStore | None = None,
              client: WebClient | None = None) -> App:
    """Build the Bolt app. HTTP mode needs the signing secret; Socket Mode needs none.

    Args:
        assistant: the service API (`assistant.service.Assistant`).
        config: Slack settings (defaults to ``assistant.settings.slack``).
        feedback: where answers and reactions are logged (defaults to the settings' feedback DB).
        client: a Slack WebClient (tests point its base_url at a local recorder).
    """
    config = config or assistant.settings.slack
    feedback = feedback or FeedbackStore(assistant.settings.feedback_db)
    if config.bot_token is None and client is None:
        raise ValueError("slack.bot_token (or $SLACK_BOT_TOKEN) is required to run the Slack bot")
    if config.mode == "http" and config.signing_secret is None:
        raise ValueError("slack.signing_secret (or $SLACK_SIGNING_SECRET) is required in HTTP mode")
    if client is None:
        kwargs = {"base_url": config.api_base_url} if config.api_base_url else {}
        client = WebClient(token=config.bot_token.get_secret_value(), **kwargs)
    app = App(
        client=client,
        signing_secret=config.signing_secret.get_secret_value() if config.signing_secret else None,
        request_verification_enabled=config.mode == "http",
    )
    bot = SlackBot(assistant, config, feedback)
    app.bot = bot  # type: ignore[attr-defined]  # handy for tests and for `chipassist slack`

    def answer_in_thread(event: dict[str, Any], say: Callable[..., Any]) -> None:
        user, channel = event.get("user", ""), event.get("channel", "")
        thread_ts = event.get("thread_ts") or event.get("ts")
        mode, text, result = bot.safe_route(event.get("text", ""), user)
        resp = say(text=text, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False)
        bot.log_answer(mode, result, user, resp.get("channel", channel), resp.get("ts", ""))

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Callable[..., Any]) -> None:
        answer_in_thread(event, say)

    @app.event("message")
    def on_message(event: dict[str, Any], say: Callable[..., Any]) -> None:
        # Only direct messages; channel messages reach us as app_mention. Edits/joins have a subtype.
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            answer_in_thread(event, say)

    @app.command("/chipassist")
    def on_command(ack: Callable[..., Any], command: dict[str, Any], respond: Callable[..., Any]) -> None:
        ack(text="Working on it…")  # Slack wants an ack within 3 s; the answer follows via response_url
        mode, text, _ = bot.safe_route(command.get("text", ""), command.get("user_id", ""))
        respond(text=text, response_type="ephemeral", unfurl_links=False, unfurl_media=False)

    @app.event("reaction_added")
    def on_reaction(event: dict[str, Any]) -> None:
        bot.on_reaction(event)

    @app.event("reaction_removed")
    def on_reaction_removed() -> None:  # acknowledged so Slack does not retry; the rating history stays
        return None

    return app
