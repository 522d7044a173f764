"""The `log` Slack verb comes from the registry (assistant/jobs/logs.py): a pasted log is triaged with the
caller's groups, rendered escaped with its sources, and logged for reaction feedback."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from assistant.config import load_settings
from assistant.feedback import FeedbackStore
from assistant.service import Assistant
from assistant.slack.bot import SlackBot

LOG = (Path(__file__).parents[1] / "assistant" / "logs" / "yosys_missing_module.log").read_text(encoding="utf-8")


def test_log_verb_explains_a_pasted_yosys_log(sample_index_master, tmp_path):
    settings = load_settings(None, index_dir=sample_index_master, data_dir=tmp_path,
                             slack={"bot_token": "xoxb-test", "users": {"UENG": ["silicon-team"]}})
    bot = SlackBot(Assistant(settings), settings.slack, FeedbackStore(settings.feedback_db))
    mode, text, result = bot.route(f"log {LOG}ERROR: <!channel> read the spec\n", "UENG")
    assert mode == "log" and result.issues[0].severity == "error", text
    assert "*Sources*" in text and "flow_guide.rst" in text and "Retrieval-only digest" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text  # rendered through format.escape
    assert "`/chipassist log PASTED-LOG`" in bot.route("help", "UENG")[1]
    assert bot.route("log", "UENG")[0] == "help"  # nothing pasted: the job's own hint

    bot.log_answer(mode, result, "UENG", "CENG", "200.1")
    rows = sqlite3.connect(settings.feedback_db).execute("SELECT mode, question, sources FROM answers").fetchall()
    assert rows[0][0] == "log" and "uart_rx" in rows[0][1] and "flow_guide.rst" in rows[0][2]
