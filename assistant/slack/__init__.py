"""The Slack bot: a slack-bolt app that answers mentions, DMs and `/chipassist`, over HTTP or Socket Mode.

    chipassist slack --index .chipassist/index            # HTTP mode on 127.0.0.1:3000, POST /slack/events
    chipassist slack --socket                              # Socket Mode (needs SLACK_APP_TOKEN)

It holds no logic of its own: every answer comes from `assistant.service.Assistant`.
"""
from assistant.slack.bot import build_app

__all__ = ["build_app"]
