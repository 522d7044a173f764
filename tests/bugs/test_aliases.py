"""Long paths become <Pn> aliases before prompting and come back in the output."""
from __future__ import annotations

from assistant.bugs.aliases import AliasMap
from tests.bugs.conftest import CI_URL, LOG, WAVES


def test_round_trip_restores_every_path_and_keeps_punctuation():
    amap = AliasMap()
    text = f"See {LOG}, the waves {WAVES}. Report: {CI_URL}; file rtl/dma/dma_burst_split.v again {LOG}."
    short = amap.alias(text)
    assert LOG not in short and WAVES not in short and CI_URL not in short
    assert short.startswith("See <P1>, the waves <P2>. Report: <P3>;")
    assert short.count("<P1>") == 2  # the same path always gets the same alias
    assert amap.restore(short) == text
    assert len(amap) == 4 and amap.mapping["<P4>"] == "rtl/dma/dma_burst_split.v"


def test_short_paths_and_plain_words_are_left_alone():
    amap = AliasMap()
    text = "Edit a/b.v and /tmp/x, not and/or; ratio 3/4."
    assert amap.alias(text) == text and len(amap) == 0


def test_aliases_are_shared_across_chunks_and_unknown_aliases_survive():
    amap = AliasMap()
    first, second = amap.alias(f"log {LOG}"), amap.alias(f"again {LOG} and {WAVES}")
    assert first == "log <P1>" and second == "again <P1> and <P2>"
    assert amap.restore("model said <P2> and <P9>") == f"model said {WAVES} and <P9>"
