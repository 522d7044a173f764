"""bench/qa_llm.py: its scoring rules on fixed texts, and its core run end to end on the sample index with the
real SmolLM2-135M GGUF (2 questions + 2 off-topic ones; the numbers are meaningless, the plumbing is not)."""
from __future__ import annotations

import json

from bench.facts import has_fact, key_terms
from bench.qa_llm import ABSTAIN, OFF_TOPIC, cited_numbers, run, split_attribution, write
from tests.conftest import SAMPLE

METRICS = ("citation_validity", "raw_citation_validity", "cites_any", "gold_retrieved", "cited_gold",
           "cited_gold_when_retrieved", "cited_or_attributed_gold", "fact_when_retrieved", "attribution_block",
           "offtopic_abstention", "false_abstention", "model_false_abstention", "model_offtopic_abstention",
           "closest_blocks", "fact_shown_when_retrieved", "fallbacks", "latency_s_p50", "ttft_s_p50",
           "decode_tps_p50", "prompt_tokens_p50", "answer_tokens_p50")


def test_gold_fact_terms_and_matching():
    terms = key_terms("Set target density. The default value is `0.7`",
                      "what target density does global_placement use if I don't pass -density?")
    assert terms == ["0.7"]
    assert has_fact("The default target density is 0.7 [1].", terms)
    assert not has_fact("The density is 0.75 [1].", terms) and not has_fact("See [7].", ["7"])  # citations are not values
    words = key_terms("to clear the done and error flags", "How do I reset the DMA and clear its error flag?")
    assert words == ["done"] and has_fact("Write 1 to DONE.", words)
    assert key_terms("reset the DMA", "How do I reset the DMA?") == [] and has_fact("anything", []) is None


def test_abstention_and_citation_parsing():
    for text in ("The sources do not cover this.", "The provided sources don't mention sourdough.",
                 "This is not mentioned in the documents.", "I cannot answer that from the sources."):
        assert ABSTAIN.search(text), text
    for text in ("The DMA does not clear ERR on soft reset [1].", "BAUD_DIV resets to 0x1A [2]."):
        assert not ABSTAIN.search(text), text
    assert cited_numbers("DONE [1][3], data[7] and [2, 4].") == [1, 3, 2, 4]
    own, block = split_attribution("Answer.\n\nSources by sentence (the model cited none; matched by ChipAssist):\n- x [1]")
    assert own == "Answer." and cited_numbers(block) == [1]
    # The closest passages the product adds after an abstention are not the model's words nor its citations.
    from assistant.qa import CLOSEST_LABEL

    own, block = split_attribution(f"The sources do not cover this.\n\n{CLOSEST_LABEL}\n\n[1] docs/a.md — A\ntext")
    assert own == "The sources do not cover this." and block.startswith("\n\n" + CLOSEST_LABEL)
    assert len(OFF_TOPIC) == 10 and len({i for i, _ in OFF_TOPIC}) == 10


def test_smoke_run_on_the_sample_index(sample_index_master, smol_gguf, tmp_path):
    # threads=1: on a machine shared with other jobs, llama.cpp's 2-thread barrier is several times slower
    report, records = run(sample_index_master, SAMPLE / "eval" / "queries.jsonl", None, str(smol_gguf), limit=2,
                          llm={"max_new_tokens": 24, "prompt_tokens": 400, "threads": 1}, data_dir=tmp_path / "data")
    summary, per_question = write(report, records, tmp_path / "out")
    saved = json.loads(summary.read_text())
    assert set(saved["metrics"]) == {"written"} and saved["questions"] == 2 and saved["offtopic"] == 2
    llm, base = saved["metrics"]["written"]["llm"], saved["metrics"]["written"]["baseline"]
    for system in (llm, base):
        assert set(METRICS) <= set(system)
    assert llm["citation_validity"] == 1.0 == base["citation_validity"]  # the citation filter's guarantee
    assert base["cited_gold"] == base["gold_retrieved"]  # retrieval-only shows (cites) every passage
    assert llm["fallbacks"] == 0 and 0 < llm["ttft_s_p50"] <= llm["latency_s_p50"]
    assert 0 < llm["answer_tokens_p50"] <= 25 and llm["prompt_tokens_p50"] <= 400
    lines = [json.loads(line) for line in per_question.read_text().splitlines()]
    assert [r["set"] for r in lines] == ["on", "on", "off", "off"]
    for r in lines:
        assert r["llm"]["backend"] == "llamacpp" and r["llm"]["raw"] and r["baseline"]["backend"] == "none"
        assert r["llm"]["model_text"] in r["llm"]["text"]
    for failure in saved["failures"]:
        assert failure["reasons"] and failure["id"] in {r["id"] for r in lines}


def test_model_abstention_and_what_the_user_sees_are_scored_apart():
    from assistant.qa import CLOSEST_LABEL
    from assistant.types import Answer, Source
    from bench.qa_llm import answer_record

    src = Source(n=1, chunk_id="docs/uart.md#1", path="docs/uart.md", title="UART", snippet="BAUD_DIV", score=1.0)
    said = "The sources do not cover this."
    call = {"answer": said, "messages": [{"role": "user", "content": "p"}], "seconds": 2.0, "first_s": 1.0,
            "answer_tokens": 8, "prompt_tokens": 100}
    shown = answer_record({"answer": Answer(question="q", text=f"{said}\n\n{CLOSEST_LABEL}\n\n[1] docs/uart.md\nBAUD_DIV",
                                            sources=[src], backend="llamacpp"), "seconds": 2.0, "ttft_s": 1.0, "call": call})
    assert shown["model_abstained"] and not shown["abstained"] and shown["closest_block"]
    assert shown["model_text"] == said and shown["cited"] == [] and not shown["attribution_block"]
    bare = answer_record({"answer": Answer(question="q", text=said, sources=[src], backend="llamacpp"),
                          "seconds": 2.0, "ttft_s": 1.0, "call": call})
    assert bare["model_abstained"] and bare["abstained"] and not bare["closest_block"]
