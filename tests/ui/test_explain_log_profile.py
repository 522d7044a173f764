"""The "Explain log" chat profile comes from the registry (assistant/jobs/logs.py): a log pasted in the chat
is triaged through the same dispatch as every job, its sources shown as side elements and the answer logged."""
from __future__ import annotations

import sqlite3
from pathlib import Path

LOG = (Path(__file__).parents[1] / "assistant" / "logs" / "openroad_route.log").read_text(encoding="utf-8")


def test_explain_log_profile_triages_a_pasted_log(ui_server, chat):
    async def session(user):
        return await user.send(LOG), await user.send("")

    turn, empty = chat(ui_server.url, "engineer", "chipassist", session, profile="Explain log")
    assert turn.ok, turn
    assert "openroad log" in turn.text and "ERROR GRT-0119" in turn.text and "×2 (first at line 11" in turn.text
    assert "**Sources**" in turn.text and "sk-proj-" not in turn.text, turn.text
    assert any(e["display"] == "side" for e in turn.elements), turn.elements
    assert empty.ok and "Paste a tool log" in empty.text
    rows = sqlite3.connect(ui_server.data_dir / "feedback.sqlite").execute(
        "SELECT mode, user FROM answers WHERE mode = 'log'").fetchall()
    assert rows == [("log", "engineer")]
