"""The deterministic digest (backend none): fields, timeline, participants, last activity, files, units."""
from __future__ import annotations

from assistant.bugs.digest import bug_digest, digest_facts
from corpora.types import BugRecord
from tests.bugs.conftest import CI_URL, LOG, WAVES, long_thread_bug


def test_digest_facts_of_a_long_thread():
    bug = BugRecord.model_validate(long_thread_bug(n_comments=6))
    facts = digest_facts(bug)
    assert facts.fields["status"] == "resolved" and facts.fields["severity"] == "critical"
    assert facts.fields["comments"] == "9"
    names = dict(facts.participants)
    assert list(names) == ["frank", "alice", "bob"]  # reporter first, then assignee, then commenters
    assert names["frank"] == "reporter; 3 comments, last 2024-03-05"
    assert names["alice"].startswith("assignee; 5 comments, last 2024-03-20")
    assert names["bob"] == "1 comment, last 2024-03-03"
    events = [e for _, e in facts.timeline]
    assert events[0] == "opened by frank"
    assert "status -> in_progress (bob)" in events and "fix merged (alice)" in events
    assert events[-1] == "current status: resolved"
    assert facts.timeline.index(("2024-03-03", "status -> in_progress (bob)")) < \
        facts.timeline.index(("2024-03-20", "fix merged (alice)"))
    assert facts.last_activity.startswith("2024-03-20 by alice: Fix merged in rtl/dma/dma_burst_split.v")
    assert facts.files == [LOG, WAVES, "rtl/dma/dma_burst_split.v", CI_URL]
    assert {"dma_ctrl", "dma_burst_split"} <= set(facts.units)
    assert not any(u.endswith(".v") for u in facts.units)


def test_history_records_appear_in_the_timeline_and_the_text_has_every_part():
    bug = BugRecord(id="B7", title="UART hang", status="open", component="uart", reporter="qa", created="2024-01-01",
                    extra={"history": [{"date": "2024-01-02", "field": "status", "from": "new", "to": "open",
                                        "author": "lead"}]})
    text = bug_digest(bug)
    assert "2024-01-02  status: new -> open by lead" in text
    for heading in ("Fields:", "Status timeline:", "Participants:", "Last activity: 2024-01-01: no comments",
                    "Files mentioned: none", "Units mentioned: none"):
        assert heading in text
