"""The one near-duplicate detector (`corpora.dedup`), which ingestion, gen-data and gen-pairs all use."""
from __future__ import annotations

from corpora.dedup import Deduplicator, NearDuplicates, shingles, similarity

DOC = ("The UART transmitter shifts out the start bit, eight data bits, an optional parity bit and the stop bit. "
       "The baud divisor register sets the bit period in clock cycles; writing it while busy is ignored. ") * 3


def test_similarity_ignores_case_punctuation_and_markup():
    assert shingles("Set the `BAUD_DIV` register.", n=2) == {"set the", "the baud_div", "baud_div register"}
    assert similarity(DOC, DOC.upper().replace(";", ",")) == 1.0
    assert similarity(DOC, "DMA channels move words between memories.") == 0.0
    assert 0.8 < similarity(DOC, DOC + " Copied from the old spec.") < 1.0


def test_near_duplicates_by_lsh_and_scope():
    near = NearDuplicates(0.8)
    near.add("a.md", DOC, scope="public")
    assert near.find(DOC + " Copied from the old spec.", scope="public") == "a.md"
    assert near.find(DOC, scope="silicon-team") is None  # another ACL: never its duplicate
    assert near.find("DMA channels move words between memories. " * 20, scope="public") is None


def test_exact_mode_confirms_candidates_and_accept_can_veto():
    near = NearDuplicates(0.9, shingle=1, num_perm=128, exact=True)
    near.add(1, "what does the uart baud divisor register set")
    # 8 of 9 words shared (Jaccard 0.89): the LSH proposes it, the exact check refuses it
    assert near.find("what does the uart baud divisor register hold") is None
    assert near.find("what does the uart baud divisor register set") == 1
    assert near.find("what does the uart baud divisor register set", accept=lambda key: key != 1) is None


def test_ingest_deduplicator_keeps_the_first_copy():
    d = Deduplicator(threshold=0.8)
    assert d.check("a.md", "h1", DOC) is None
    assert d.check("b.md", "h1", DOC) == ("exact", "a.md")
    assert d.check("c.md", "h2", DOC + " Copied from the old spec.") == ("near", "a.md")
    assert d.check("d.md", "h3", DOC + " Copied.", scope=("silicon-team",)) is None
