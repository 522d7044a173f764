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
    assert counts == {"preferences": 1, "ratings": 2}
    prefs = [json.loads(l) for l in (tmp_path / "out" / "preferences.jsonl").read_text().splitlines()]
    assert prefs == [{"prompt": "How is the baud rate set?", "chosen": "Write DIV [1].", "rejected": "No idea."}]
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
