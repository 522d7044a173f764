"""FeedbackStore: answers logged, ratings attached, preference/rating datasets exported."""
import json
import threading

import pytest

from assistant.feedback import FeedbackStore
from assistant.types import Answer, Source


def _answer(q: str, text: str) -> Answer:
    src = Source(n=1, chunk_id="docs/uart.md#2", path="docs/uart.md", title="UART > Baud", snippet="...", score=0.9)
    return Answer(question=q, text=text, sources=[src], backend="openai", model="tiny")


def test_record_rate_and_export(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    good = store.record_answer(_answer("How is the baud rate set?", "Write DIV [1]."), client="ui", user="ann")
    bad = store.record_answer(_answer("how is the  baud rate set?", "No idea."), client="slack", user="bob",
                              external_ref="C1:123.4")
    unrated = store.record_answer(_answer("What resets the DMA?", "CTRL.RST [1]"), client="cli")
    store.add_feedback(good, 1, user="ann", comment="spot on")
    store.add_feedback(bad, 1, user="bob")
    store.add_feedback(bad, -1, user="bob")  # bob changed his mind: the latest rating counts
    store.add_feedback(unrated, 0, comment="comment only")

    assert store.answer_id_for_ref("C1:123.4") == bad
    counts = store.export(tmp_path / "out")
    assert counts == {"preferences": 1, "ratings": 2, "withheld": 0}
    prefs = [json.loads(l) for l in (tmp_path / "out" / "preferences.jsonl").read_text().splitlines()]
    assert prefs == [{"prompt": "How is the baud rate set?", "chosen": "Write DIV [1].", "rejected": "No idea.",
                      "acl": ["public"]}]
    ratings = [json.loads(l) for l in (tmp_path / "out" / "ratings.jsonl").read_text().splitlines()]
    assert {r["label"] for r in ratings} == {True, False}
    assert ratings[0]["sources"][0]["path"] == "docs/uart.md" and ratings[0]["comments"] == ["spot on"]


def test_bad_feedback_is_rejected(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    with pytest.raises(KeyError, match="no answer"):
        store.add_feedback("missing", 1)
    aid = store.record_answer(_answer("q", "a"), client="ui")
    with pytest.raises(ValueError, match="rating"):
        store.add_feedback(aid, 5)


def test_concurrent_writers_persist_across_reopen(tmp_path):
    db = tmp_path / "fb.sqlite"
    store = FeedbackStore(db)

    def work(i: int) -> None:
        for j in range(20):
            store.add_feedback(store.record_answer(_answer(f"q{i}-{j}", "a"), client="ui"), 1)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(FeedbackStore(db).rows()) == 80


def _restricted(q: str, text: str, acl: list[str]) -> Answer:
    src = Source(n=1, chunk_id="docs/restricted/orion.md#1", path="docs/restricted/orion.md", title="Orion",
                 snippet="Orion mask set", score=0.9, acl=acl)
    pub = _answer(q, text).sources[0]
    return Answer(question=q, text=text, sources=[pub, src], backend="openai", model="tiny")


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_applies_acls_and_records_them_on_every_row(tmp_path):
    """Answers built from restricted passages were exported to anyone, with no ACL field."""
    store = FeedbackStore(tmp_path / "fb.sqlite")
    public = store.record_answer(_answer("When does Orion tape out?", "Not documented [1]."), client="ui")
    secret = store.record_answer(_restricted("When does Orion tape out?", "Week 42 [2].", ["soc-team"]), client="ui")
    bug = store.record_answer({"question": "bug ORI-1", "text": "Orion boot key leak", "acl": ["soc-team"]},
                              client="slack", mode="bug")
    unknown = store.record_answer({"question": "legacy", "text": "a", "sources": [{"path": "x"}]}, client="cli")
    for aid, rating in ((public, -1), (secret, 1), (bug, 1), (unknown, 1)):
        store.add_feedback(aid, rating)

    counts = store.export(tmp_path / "pub")
    assert counts == {"preferences": 0, "ratings": 1, "withheld": 3}
    assert "Week 42" not in (tmp_path / "pub" / "ratings.jsonl").read_text()
    assert "Orion boot key" not in (tmp_path / "pub" / "ratings.jsonl").read_text()
    assert [r["acl"] for r in _read(tmp_path / "pub" / "ratings.jsonl")] == [["public"]]

    counts = store.export(tmp_path / "team", {"soc-team"})
    assert counts == {"preferences": 1, "ratings": 3, "withheld": 1}
    assert {r["completion"]: r["acl"] for r in _read(tmp_path / "team" / "ratings.jsonl")} == {
        "Not documented [1].": ["public"], "Week 42 [2].": ["soc-team"], "Orion boot key leak": ["soc-team"]}
    assert _read(tmp_path / "team" / "preferences.jsonl")[0]["acl"] == ["soc-team"]


def test_cli_export_groups_and_a_log_from_before_acls(tmp_path):
    import sqlite3

    from typer.testing import CliRunner

    from assistant.cli import app

    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "feedback.sqlite") as old:  # a log written before answers had an ACL column
        old.executescript("""
            CREATE TABLE answers (id TEXT PRIMARY KEY, created REAL NOT NULL, client TEXT NOT NULL,
                user TEXT NOT NULL DEFAULT '', mode TEXT NOT NULL DEFAULT 'ask', question TEXT NOT NULL,
                answer TEXT NOT NULL, sources TEXT NOT NULL DEFAULT '[]', backend TEXT NOT NULL DEFAULT '',
                model TEXT NOT NULL DEFAULT '', external_ref TEXT);
            CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, answer_id TEXT NOT NULL, created REAL NOT NULL,
                user TEXT NOT NULL DEFAULT '', rating INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '');
            INSERT INTO answers (id, created, client, question, answer) VALUES ('old', 0, 'ui', 'q', 'old answer');
            INSERT INTO feedback (answer_id, created, rating) VALUES ('old', 0, 1);""")
    store = FeedbackStore(data / "feedback.sqlite")
    store.add_feedback(store.record_answer(_restricted("q2", "Week 42 [2].", ["soc-team"]), client="ui"), 1)
    runner = CliRunner()
    res = runner.invoke(app, ["feedback", "export", "--out", str(tmp_path / "o"), "--data-dir", str(data), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ratings"] == 0 and json.loads(res.stdout)["withheld"] == 2
    res = runner.invoke(app, ["feedback", "export", "--out", str(tmp_path / "o"), "--data-dir", str(data),
                              "--groups", "soc-team", "--json"])
    assert res.exit_code == 0 and (json.loads(res.stdout)["ratings"], json.loads(res.stdout)["withheld"]) == (1, 1)
    assert [r["acl"] for r in _read(tmp_path / "o" / "ratings.jsonl")] == [["soc-team"]]
