"""Retriever fine-tuning: derived pairs with filtered hard negatives, real training on a tiny model, atomic
saves that survive interruption, clear errors on bad input, and the `chipassist retriever` commands."""
from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpora.types import Chunk
from retriever.finetune.config import PairsConfig, TrainConfig
from retriever.finetune.gen_pairs import PairsError, false_negative_reason, generate_pairs, write_pairs
from retriever.finetune.templates import derive_queries
from retriever.finetune.train import TrainError, load_model, train_model

TINY_TRAIN = dict(batch_size=8, max_steps=2, eval_every=2, learning_rate=1e-3, max_eval_corpus=60,
                  max_seq_length=32)  # shorter than the tiny model's 64-token window


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------ gen-pairs
def test_derived_queries_are_varied_and_cover_every_kind(sample_pairs):
    rows, report, _ = sample_pairs
    assert report.pairs == len(rows) >= 200
    assert {"docs", "rtl", "bugs", "tcl"} <= set(report.kinds)
    openings = {r["query"].split()[0].lower() for r in rows}
    assert len(openings) >= 15, openings  # templates + paraphrase, not one phrasing
    assert len({r["query"] for r in rows}) == len(rows)
    # structured facts become questions: option tables, bug titles, Verilog modules
    queries = " | ".join(r["query"] for r in rows)
    assert "global_placement" in queries or "read_lef" in queries
    assert any(r["kind"] == "bugs" and "PICO-" not in r["query"] for r in rows)


def test_hard_negatives_exclude_false_negatives(sample_pairs, sample_index_master):
    from retriever.index import Index

    rows, report, _ = sample_pairs
    idx = Index.open(sample_index_master)
    assert all(len(r["negatives"]) == 1 for r in rows)
    for r in rows:
        pos = idx.get(r["chunk_id"])
        for nid in r["negative_ids"]:
            neg = idx.get(nid)
            assert nid != r["chunk_id"]
            assert false_negative_reason(pos, neg, -1.0, 1.0, PairsConfig()) is None
    assert report.filtered["positive"] > 0 and report.filtered["same section"] > 0
    # held-out split: whole documents, never trained on
    train_src = {r["source"] for r in rows if r["split"] == "train"}
    held_src = {r["source"] for r in rows if r["split"] == "heldout"}
    assert held_src and not (train_src & held_src)


def test_false_negative_rules():
    cfg = PairsConfig(relative_margin=0.05, near_duplicate=0.8)
    text = "The UART baud divisor is BAUD_DIV = clk / (16 * baud) and resets to 0x1A."
    pos = Chunk(id="a#0", source="docs/uart.md", title="UART > Baud", text=text, doc_type="markdown", kind="docs")
    part = Chunk(id="a#1", source="docs/uart.md", title="UART > Baud (part 2)", text="other words here",
                 doc_type="markdown", kind="docs")
    dup = Chunk(id="b#0", source="docs/copy.md", title="Copy", text=text + " Copy.", doc_type="markdown", kind="docs")
    far = Chunk(id="c#0", source="docs/dma.md", title="DMA", text="DMA channels move words.", doc_type="markdown",
                kind="docs")
    assert false_negative_reason(pos, pos, 0.9, 0.9, cfg) == "positive"
    assert false_negative_reason(pos, part, 0.2, 0.9, cfg) == "same section"
    assert false_negative_reason(pos, dup, 0.2, 0.9, cfg) == "near duplicate"
    assert false_negative_reason(pos, far, 0.88, 0.9, cfg) == "score margin"
    assert false_negative_reason(pos, far, 0.5, 0.9, cfg) is None


def test_a_copy_with_other_markup_is_a_near_duplicate_not_a_negative():
    """gen-pairs uses the shared detector (corpora.dedup): words, not whitespace tokens, so a copy of the positive
    that differs only in Markdown markup and punctuation is not mined as a hard negative."""
    text = "The UART baud divisor is BAUD_DIV = clk / (16 * baud); it resets to 0x1A after reset."
    pos = Chunk(id="a#0", source="docs/uart.md", title="UART > Baud", text=text, doc_type="markdown", kind="docs")
    markup = text.replace("BAUD_DIV", "`BAUD_DIV`").replace("UART", "**UART**").replace(";", ",")
    copy = Chunk(id="b#0", source="docs/uart.html", title="Baud", text=markup, doc_type="html", kind="docs")
    assert false_negative_reason(pos, copy, 0.2, 0.9, PairsConfig()) == "near duplicate"


def test_templates_turn_option_rows_into_questions():
    text = ("```tcl\nglobal_placement\n    [-density target_density]\n```\n\n| Switch Name | Description |\n"
            "| ----- | ----- |\n| `-density` | Set target density. The default value is `0.7`. |\n")
    chunk = Chunk(id="g#0", source="gpl/README.md", title="Global Placement > Options", text=text,
                  doc_type="markdown", kind="docs")
    qs = {q for seed in range(12) for q in derive_queries(chunk, random.Random(seed), 3)}
    assert any("target density" in q and "0.7" not in q for q in qs)
    assert any("global_placement" in q for q in qs)
    assert len(qs) >= 6


class _FakeIndex:
    def __init__(self, chunks, index_dir="fake-index"):
        self._chunks, self.index_dir = chunks, index_dir

    def chunks(self):
        return iter(self._chunks)


def test_gen_pairs_rejects_an_index_without_text_or_too_small():
    empty = [Chunk(id=f"x#{i}", source="x", title="", text="  ", doc_type="text", kind="text") for i in range(5)]
    with pytest.raises(PairsError, match="no chunk text"):
        generate_pairs(_FakeIndex(empty), progress=False)
    tiny = [Chunk(id=f"t#{i}", source="t.md", title="T", text="word " * 30, doc_type="text", kind="text")
            for i in range(2)]
    with pytest.raises(PairsError, match="too small"):
        generate_pairs(_FakeIndex(tiny), progress=False)


def _writer_reply(messages: list[dict]) -> str:
    """A scripted LLM writing two numbered questions about the section it is shown."""
    section = re.search(r"Section: (.*)", messages[-1]["content"]).group(1)
    return f"1. Where is {section} described in detail?\n- What does {section} configure?\nok"


def test_gen_pairs_writes_queries_with_an_openai_compatible_server(sample_index_master):
    from retriever.index import Index
    from tests.support.openai_server import OpenAIServer, ScriptedLLM

    llm = ScriptedLLM(_writer_reply)
    with OpenAIServer(llm, model_id="writer-1") as server:  # no model configured: the server's first
        cfg = PairsConfig(backend="openai", base_url=server.base_url, max_pairs=8, queries_per_chunk=2)
        rows, report = generate_pairs(Index.open(sample_index_master), cfg, progress=False)
    assert report.pairs == len(rows) == 8 and len(llm.calls) >= 4
    assert all(r["query"].startswith(("Where is ", "What does ")) for r in rows)  # numbering stripped


def test_gen_pairs_names_an_unreachable_server(sample_index_master):
    from retriever.index import Index
    from tests.support.openai_server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    cfg = PairsConfig(backend="openai", base_url=url, timeout_s=5)
    with pytest.raises(PairsError, match=rf"gen-pairs: .*server at {url} is unreachable.*is the server running"):
        generate_pairs(Index.open(sample_index_master), cfg, progress=False)


# ------------------------------------------------------------------------------------------ train
@pytest.fixture(scope="module")
def tuned(tiny_model, sample_pairs, tmp_path_factory):
    out = tmp_path_factory.mktemp("tuned") / "model"
    report = train_model(sample_pairs[2], out, TrainConfig(base_model=tiny_model, **TINY_TRAIN), progress=False)
    return out, report


def test_training_saves_a_model_that_builds_an_index(tuned, sample_dir, tmp_path):
    from retriever.config import IndexConfig
    from retriever.embedder import Embedder
    from retriever.index import Index, build_index

    out, report = tuned
    assert report.steps == 2 and report.best and report.base
    assert json.loads((out / "chipassist-finetune.json").read_text())["report"]["steps"] == 2
    assert not list(out.parent.glob(".model.*"))  # temp folders gone
    # trained on 32-token inputs for speed, but saved with the base's window: an index built with it must
    # embed whole chunks as the base model did, or the comparison (and the tuned index) is truncated
    assert load_model(out).max_seq_length == 64
    assert Embedder(out).embed_query("baud rate").shape == (32,)
    build_index([sample_dir / "docs"], tmp_path / "idx", IndexConfig(embed_backend="torch"), model=out,
                progress=False)
    idx = Index.open(tmp_path / "idx")
    assert idx.info["model"]["path"] == str(out)
    assert idx.search("UART baud divisor", k=3, mode="dense")


def test_saved_model_is_the_tuned_checkpoint_averaged_with_the_base(tuned, tiny_model, sample_pairs, tmp_path):
    import torch

    out, report = tuned  # default merge 0.5
    assert report.merged and report.merged != report.best  # the merged model is scored on the held-out split too
    raw = tmp_path / "raw"  # the same run (same seed and data order) saved without averaging
    train_model(sample_pairs[2], raw, TrainConfig(base_model=tiny_model, merge=1.0, **TINY_TRAIN), progress=False)
    merged, plain, base = (load_model(p).state_dict() for p in (out, raw, tiny_model))
    floats = [n for n, t in base.items() if t.is_floating_point()]
    assert floats and all(torch.allclose(merged[n], 0.5 * plain[n] + 0.5 * base[n], atol=1e-6) for n in floats)
    assert any(not torch.allclose(plain[n], base[n]) for n in floats)  # training did move the weights


def test_time_budget_shortens_the_run_and_keeps_the_best_checkpoint(tiny_model, sample_pairs, tmp_path):
    out = tmp_path / "budget"
    cfg = TrainConfig(base_model=tiny_model, **TINY_TRAIN | {"max_steps": 400, "eval_every": 100, "max_minutes": 0.05})
    report = train_model(sample_pairs[2], out, cfg, progress=False)
    assert report.stopped_early and 1 <= report.steps < 400
    assert report.best and (out / "modules.json").is_file()
    assert report.seconds < 60


def test_interrupted_training_keeps_the_previous_model(tuned, sample_pairs, monkeypatch):
    from transformers import Trainer

    out, _ = tuned
    before = _digest(out)
    calls = {"n": 0}
    real_step = Trainer.training_step

    def step_then_interrupt(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_step(self, *a, **kw)

    monkeypatch.setattr(Trainer, "training_step", step_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_model(sample_pairs[2], out, TrainConfig(base_model=out, **TINY_TRAIN | {"max_steps": 4}),
                    progress=False)
    assert calls["n"] == 2
    assert _digest(out) == before
    assert not list(out.parent.glob(".model.*"))
    load_model(out)  # still a whole, loadable model


def test_bad_model_folder_and_tiny_pairs_file_are_clear_errors(tmp_path, sample_pairs, tiny_model):
    junk = tmp_path / "not-a-model"
    junk.mkdir()
    (junk / "config.json").write_text("{}")
    with pytest.raises(TrainError, match="not a sentence-transformers model"):
        train_model(sample_pairs[2], tmp_path / "out", TrainConfig(base_model=junk, **TINY_TRAIN), progress=False)
    few = tmp_path / "few.jsonl"
    write_pairs(sample_pairs[0][:3], few)
    with pytest.raises(TrainError, match="fewer than one batch"):
        train_model(few, tmp_path / "out", TrainConfig(base_model=tiny_model, **TINY_TRAIN), progress=False)
    assert not (tmp_path / "out").exists()


def test_train_config_rejects_bad_values_naming_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="batch_size"):
        TrainConfig(batch_size=1)
    with pytest.raises(ValidationError, match="loss"):
        TrainConfig(loss="triplet")


# ------------------------------------------------------------------------------------------ CLI
def test_cli_gen_pairs_train_and_errors(sample_index_master, tiny_model, tmp_path):
    from assistant.cli import app

    runner = CliRunner()
    pairs = tmp_path / "pairs.jsonl"
    r = runner.invoke(app, ["retriever", "gen-pairs", "--index", str(sample_index_master), "--out", str(pairs),
                            "--max-pairs", "120", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pairs"] == 120 == len(pairs.read_text().splitlines())
    out = tmp_path / "model"
    r = runner.invoke(app, ["retriever", "train", "--pairs", str(pairs), "--out", str(out), "--base-model",
                            str(tiny_model), "--max-steps", "1", "--batch-size", "8", "--json"])
    assert r.exit_code == 0, r.output
    assert (out / "modules.json").is_file()
    r = runner.invoke(app, ["retriever", "train", "--pairs", str(pairs), "--out", str(out), "--base-model",
                            str(tmp_path), "--max-steps", "1"])
    assert r.exit_code == 2 and "not a sentence-transformers model" in " ".join(r.output.split())
    r = runner.invoke(app, ["retriever", "gen-pairs", "--index", str(tmp_path / "none"), "--out", str(pairs)])
    assert r.exit_code == 1


def test_cli_eval_prints_base_and_tuned_side_by_side(sample_index, tuned, sample_dir, tmp_path):
    from assistant.cli import app

    runner = CliRunner()
    queries = sample_dir / "eval" / "queries.jsonl"
    r = runner.invoke(app, ["retriever", "eval", "--index", str(sample_index), "--queries", str(queries),
                            "--model", str(tuned[0]), "--mode", "dense", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert set(res) == {"base", "tuned", "verdict"} and {"hit@1", "hit@5", "mrr@10"} <= set(res["base"])
    assert res["base"]["hit@5"] > res["tuned"]["hit@5"]  # a 2-step random tiny model is worse than MiniLM
    assert res["verdict"]["use_tuned"] is False and "hit@5" in res["verdict"]["why"]
    r = runner.invoke(app, ["retriever", "eval", "--index", str(sample_index), "--queries", str(queries),
                            "--model", str(tmp_path)])
    assert r.exit_code == 2 and "not a sentence-transformers model" in " ".join(r.output.split())


def test_cli_index_with_a_bad_model_folder_keeps_the_index(sample_index, sample_dir, tmp_path):
    from assistant.cli import app
    from retriever.index import Index

    before = Index.open(sample_index).info["generation"]
    r = CliRunner().invoke(app, ["index", str(sample_dir), "--index", str(sample_index), "--model", str(tmp_path),
                                 "--rebuild"])
    assert r.exit_code == 2 and "sentence-transformers model" in " ".join(r.output.split())
    idx = Index.open(sample_index)
    assert idx.info["generation"] == before and idx.search("UART baud rate", k=1, mode="bm25")


# ------------------------------------------------------------------------------------------ bad input, via the CLI
def _tiny_corpus(folder: Path, sections: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n\n".join(f"## Register R{i}\n\nThe R{i} register of the timer block holds counter value number {i}, "
                       f"reset to zero, and raises interrupt {i} on overflow." for i in range(sections))
    (folder / "timer.md").write_text(f"# Timer\n\n{body}\n")
    return folder


def test_cli_tiny_corpus_and_index_without_text_are_clear_errors(tmp_path):
    from assistant.cli import app

    runner = CliRunner()
    blank = tmp_path / "blank"
    blank.mkdir()
    (blank / "empty.md").write_text("  \n\n")
    for name, corpus, message in [("blank", blank, "no chunk text"),
                                  ("two", _tiny_corpus(tmp_path / "two", 1), "too small")]:
        idx = tmp_path / f"idx-{name}"
        assert runner.invoke(app, ["index", str(corpus), "--index", str(idx), "--json"]).exit_code == 0
        r = runner.invoke(app, ["retriever", "gen-pairs", "--index", str(idx), "--out", str(tmp_path / "p.jsonl")])
        assert r.exit_code == 2 and message in " ".join(r.output.split()), r.output
        assert not (tmp_path / "p.jsonl").exists()
    # fewer chunks than a batch: pairs can be written, training refuses before loading anything
    idx = tmp_path / "idx-small"
    assert runner.invoke(app, ["index", str(_tiny_corpus(tmp_path / "small", 8)), "--index", str(idx),
                               "--json"]).exit_code == 0
    pairs = tmp_path / "small.jsonl"
    r = runner.invoke(app, ["retriever", "gen-pairs", "--index", str(idx), "--out", str(pairs), "--json"])
    assert r.exit_code == 0, r.output
    assert 0 < json.loads(r.stdout)["pairs"] < 32
    r = runner.invoke(app, ["retriever", "train", "--pairs", str(pairs), "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "fewer than one batch" in " ".join(r.output.split()), r.output
    assert not (tmp_path / "m").exists()
    r = runner.invoke(app, ["retriever", "train", "--pairs", str(tmp_path / "missing.jsonl"), "--out",
                            str(tmp_path / "m")])
    assert r.exit_code == 2 and "pairs file not found" in " ".join(r.output.split()), r.output


def test_cli_interrupted_training_exits_clearly_and_keeps_the_model(tuned, sample_pairs, monkeypatch):
    from transformers import Trainer

    from assistant.cli import app

    out, _ = tuned
    before = _digest(out)

    def interrupt(self, *a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "training_step", interrupt)
    r = CliRunner().invoke(app, ["retriever", "train", "--pairs", str(sample_pairs[2]), "--out", str(out),
                                 "--base-model", str(out), "--batch-size", "8", "--max-steps", "3"])
    assert r.exit_code == 130 and "interrupted" in r.output and "not changed" in " ".join(r.output.split())
    assert _digest(out) == before and not list(out.parent.glob(".model.*"))
    load_model(out)


def test_cli_index_refuses_to_mix_models_then_rebuilds_with_the_tuned_one(sample_index, sample_dir, tuned):
    from assistant.cli import app
    from retriever.index import Index

    runner = CliRunner()
    base_info = Index.open(sample_index).info
    r = runner.invoke(app, ["index", str(sample_dir), "--index", str(sample_index), "--model", str(tuned[0])])
    assert r.exit_code == 2 and "cannot be mixed" in " ".join(r.output.split()), r.output
    idx = Index.open(sample_index)
    assert idx.info["generation"] == base_info["generation"]
    assert idx.info["model"]["fingerprint"] == base_info["model"]["fingerprint"]
    assert idx.search("UART baud rate", k=1)  # the previous index still answers (dense + BM25)
    # a separate index of the same corpus with the tuned model, compared side by side with the base
    tuned_index = sample_index.parent / "tuned-index"
    r = runner.invoke(app, ["index", str(sample_dir), "--index", str(tuned_index), "--model", str(tuned[0]),
                            "--json"])
    assert r.exit_code == 0, r.output
    assert Index.open(tuned_index).info["model"]["path"] == str(tuned[0].resolve())
    r = runner.invoke(app, ["retriever", "eval", "--index", str(sample_index), "--tuned-index", str(tuned_index),
                            "--queries", str(sample_dir / "eval" / "queries.jsonl")])
    assert r.exit_code == 0, r.output
    assert "tuned/base" in r.output and "hit@1" in r.output
    r = runner.invoke(app, ["retriever", "eval", "--index", str(sample_index), "--tuned-index", str(sample_index),
                            "--queries", str(sample_dir / "eval" / "queries.jsonl")])
    assert r.exit_code == 2 and "same model" in " ".join(r.output.split())
    # --rebuild switches the index in place, all chunks re-embedded with the tuned model
    r = runner.invoke(app, ["index", str(sample_dir), "--index", str(sample_index), "--model", str(tuned[0]),
                            "--rebuild", "--json"])
    assert r.exit_code == 0, r.output
    rebuilt = Index.open(sample_index)
    assert rebuilt.info["model"]["fingerprint"] != base_info["model"]["fingerprint"]
    assert len(rebuilt) == base_info["counts"]["chunks"]


def test_verdict_adopts_the_tuned_model_only_when_it_loses_nothing():
    from retriever.finetune.compare import verdict

    base = {"hit@1": 0.45, "hit@5": 0.80, "mrr@10": 0.586}
    assert verdict(base, {"hit@1": 0.50, "hit@5": 0.85, "mrr@10": 0.62})["use_tuned"]
    traded = verdict(base, {"hit@1": 0.425, "hit@5": 0.825, "mrr@10": 0.588})  # measured on the shared corpus
    assert not traded["use_tuned"] and traded["why"] == "worse on hit@1"
    assert not verdict(base, dict(base))["use_tuned"]


def test_gen_pairs_uses_only_chunks_visible_to_the_configured_groups(tmp_path):
    """Restricted text became training pairs (positives and negatives) with no ACL on the rows."""
    from assistant.cli import app
    from retriever.index import Index, build_index
    from tests.retriever.conftest import RESTRICTED, SECRET, write_corpus

    corpus = write_corpus(tmp_path / "corpus")
    build_index([corpus], tmp_path / "index", progress=False)
    index = Index.open(tmp_path / "index")
    cfg = dict(max_pairs=200, heldout_fraction=0.0, num_negatives=3, min_chunk_chars=20)
    rows, report = generate_pairs(index, PairsConfig(**cfg), progress=False)
    assert rows and SECRET not in json.dumps(rows) and report.acl_skipped >= 1
    assert all(r["acl"] == ["public"] for r in rows)
    team, _ = generate_pairs(index, PairsConfig(**cfg, groups=[RESTRICTED]), progress=False)
    secret_rows = [r for r in team if SECRET in json.dumps(r)]
    assert secret_rows and all(r["acl"] == [RESTRICTED] for r in secret_rows)
    assert {r["acl"][0] for r in team} == {"public", RESTRICTED}

    out = tmp_path / "pairs.jsonl"
    r = CliRunner().invoke(app, ["retriever", "gen-pairs", "--index", str(tmp_path / "index"), "--out", str(out),
                                 "--max-pairs", "50", "--json"])
    assert r.exit_code == 0, r.output
    assert SECRET not in out.read_text() and json.loads(r.stdout)["acl_skipped"] >= 1
    r = CliRunner().invoke(app, ["retriever", "gen-pairs", "--index", str(tmp_path / "index"), "--out", str(out),
                                 "--max-pairs", "50", "--groups", RESTRICTED, "--json"])
    assert r.exit_code == 0 and SECRET in out.read_text()


def test_cli_bad_option_uses_the_shared_error_format(tmp_path):
    """`retriever train` option errors read as every config error does (`format_validation_error`): the field
    and the value given."""
    from assistant.cli import app

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("")
    r = CliRunner().invoke(app, ["retriever", "train", "--pairs", str(pairs), "--out", str(tmp_path / "m"),
                                 "--batch-size", "1"])
    assert r.exit_code == 2 and "batch_size:" in r.output and "(got 1)" in r.output, r.output
