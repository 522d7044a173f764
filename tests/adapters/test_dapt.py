"""DAPT trains for real on a tiny model: loss and domain perplexity fall, checkpoints resume, an interrupted save
keeps the last checkpoint, and bad inputs fail before compute."""
import json
import os

import pytest
import torch

from adapters.config import RecipeError
from adapters.dapt import run_dapt
from adapters.trainer import latest_checkpoint


def test_dapt_lowers_loss_and_domain_perplexity(make_recipe, tiny_base, tmp_path):
    rep = run_dapt(make_recipe(), tiny_base, tmp_path / "dapt", log=lambda r: None)
    assert rep["loss_last"] < rep["loss_first"]
    assert rep["eval"]["after"]["domain_ppl"] < 0.8 * rep["eval"]["before"]["domain_ppl"]
    assert "general_ppl" in rep["eval"]["after"]
    assert (tmp_path / "dapt" / "model" / "config.json").is_file()


def test_resume_continues_and_rejects_a_changed_recipe(make_recipe, tiny_base, tmp_path):
    out = tmp_path / "dapt"
    logs = []
    run_dapt(make_recipe(), tiny_base, out, log=logs.append, stop_after=4)
    assert latest_checkpoint(out / "checkpoints").name == "step-0000004"
    logs.clear()
    run_dapt(make_recipe(), tiny_base, out, log=logs.append)
    steps = [r["step"] for r in logs if r.get("event") == "step"]
    assert logs[0] == {"event": "resumed", "step": 4} and steps[0] == 5 and steps[-1] == 12
    with pytest.raises(RecipeError, match="different recipe"):
        run_dapt(make_recipe(dapt={"lr": 1e-2}), tiny_base, out, log=lambda r: None)


def test_interrupted_save_keeps_last_checkpoint(make_recipe, tiny_base, tmp_path, monkeypatch):
    out = tmp_path / "dapt"
    run_dapt(make_recipe(), tiny_base, out, log=lambda r: None, stop_after=4)
    real_replace = os.replace

    def crash(src, dst):  # the process "dies" while moving the next checkpoint into place
        if "step-0000008" in str(dst):
            raise KeyboardInterrupt
        real_replace(src, dst)
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        run_dapt(make_recipe(), tiny_base, out, log=lambda r: None)
    ck = latest_checkpoint(out / "checkpoints")
    assert ck.name == "step-0000004" and json.loads((ck / "meta.json").read_text())["step"] == 4
    monkeypatch.setattr(os, "replace", real_replace)
    rep = run_dapt(make_recipe(), tiny_base, out, log=lambda r: None)
    assert rep["steps"] == 12


def test_bad_inputs_fail_before_compute(make_recipe, tiny_base, tmp_path):
    with pytest.raises(RecipeError, match="config.json"):
        run_dapt(make_recipe(), tmp_path / "missing", tmp_path / "o", log=print)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RecipeError, match="no usable documents"):
        run_dapt(make_recipe(data={"domain_roots": [str(empty)]}), tiny_base, tmp_path / "o", log=print)
    from adapters.tiny import build_tokenizer
    build_tokenizer(["some general text here"] * 50 + [str(i) * 30 for i in range(999)], 2000).save_pretrained(
        tiny_base)
    with pytest.raises(RecipeError, match="do not match"):
        run_dapt(make_recipe(), tiny_base, tmp_path / "o", log=print)


def test_lora_dapt_trains_added_rows_and_saves_a_merged_model(make_recipe, tiny_base, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from adapters.config import TokenizerSection
    from adapters.tokenizer import augment_folder
    tok = AutoTokenizer.from_pretrained(tiny_base)
    r = make_recipe(dapt={"method": "lora", "lr": 1e-2, "max_steps": 6, "lora": {"r": 4, "alpha": 8}})
    docs = [p.read_text() for p in sorted(r.data.domain_roots[0].glob("*.md"))]
    augment_folder(tiny_base, tmp_path / "aug", {"docs": docs}, ["plain text " * 50],
                   TokenizerSection(train_vocab_size=700, min_frequency=2), tiny_base)
    before = AutoModelForCausalLM.from_pretrained(tmp_path / "aug").get_input_embeddings().weight.detach().clone()
    rep = run_dapt(r, tmp_path / "aug", tmp_path / "dapt", log=lambda x: None, base_vocab=len(tok))
    assert rep["method"] == "lora" and rep["steps_done"] == 6 and rep["tokens_per_s"] > 0
    out = tmp_path / "dapt" / "model"
    assert (out / "config.json").is_file() and not (out / "adapter_config.json").exists()  # merged
    after = AutoModelForCausalLM.from_pretrained(out).get_input_embeddings().weight.detach()
    assert not torch.allclose(after[len(tok):len(AutoTokenizer.from_pretrained(out))],
                              before[len(tok):len(AutoTokenizer.from_pretrained(out))])  # added rows learned
    assert torch.equal(after[: len(tok)], before[: len(tok)])  # base rows untouched under LoRA


def test_bf16_mixed_precision_trains_with_fp32_master_weights(make_recipe, tiny_base, tmp_path, monkeypatch):
    # as asked, also on a CPU without native bf16 (where the run would otherwise switch to float32: next test)
    monkeypatch.setattr("adapters.trainer.train_precision", lambda dtype, mixed, log=None: (dtype, mixed))
    rep = run_dapt(make_recipe(dapt={"mixed_precision": "bf16"}), tiny_base, tmp_path / "dapt", log=lambda r: None)
    assert rep["precision"] == "float32/bf16"
    assert rep["loss_last"] < rep["loss_first"]
    assert rep["eval"]["after"]["domain_ppl"] < 0.8 * rep["eval"]["before"]["domain_ppl"]
    from transformers import AutoModelForCausalLM
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "dapt" / "model")
    assert {p.dtype for p in saved.parameters()} == {torch.float32}  # autocast, not a bf16 copy of the weights


def test_unknown_mixed_precision_is_rejected_by_the_recipe(make_recipe):
    with pytest.raises(Exception, match="mixed_precision"):
        make_recipe(dapt={"mixed_precision": "int8"})


def _rates(monkeypatch, bf16: float, fp32: float = 60e9) -> list:
    """Make this CPU's measured matmul rates ``bf16`` (and float16) and ``fp32`` FLOP/s; returns the calls."""
    calls = []

    def fake(device="cpu", dtype=torch.float32, n=1024):
        calls.append(dtype)
        return fp32 if dtype == torch.float32 else bf16
    monkeypatch.setattr("adapters.trainer.measured_peak_flops", fake)
    return calls


def test_train_precision_keeps_bf16_where_the_cpu_runs_it_natively(monkeypatch):
    from adapters.trainer import train_precision
    _rates(monkeypatch, bf16=110e9)
    logged = []
    assert train_precision("bfloat16", "bf16", logged.append) == ("bfloat16", "bf16") and not logged
    assert train_precision("float32", "bf16", logged.append) == ("float32", "bf16")
    calls = _rates(monkeypatch, bf16=0.8e9)
    assert train_precision("float32", "no", logged.append) == ("float32", "no") and not calls  # nothing to measure


def test_train_precision_falls_back_to_float32_on_a_cpu_without_native_bf16(monkeypatch):
    """An AVX2-only CPU multiplies bf16 matrices on a scalar fallback (0.8 against 67 GFLOP/s measured): a bf16
    recipe there trains in float32, and says so."""
    from adapters.trainer import train_precision
    _rates(monkeypatch, bf16=0.8e9)
    logged = []
    assert train_precision("bfloat16", "bf16", logged.append) == ("float32", "no")
    assert train_precision("float16", "no", logged.append) == ("float32", "no")
    assert [r["event"] for r in logged] == ["precision", "precision"]
    assert "0.8 GFLOP/s against 60.0 for float32" in logged[0]["reason"]


def test_dapt_on_a_cpu_without_native_bf16_trains_in_float32(make_recipe, tiny_base, tmp_path, monkeypatch):
    _rates(monkeypatch, bf16=0.8e9)
    logged = []
    rep = run_dapt(make_recipe(model={"base": None, "tiny": {}, "dtype": "bfloat16"},
                               dapt={"mixed_precision": "bf16"}), tiny_base, tmp_path / "dapt", log=logged.append)
    assert rep["precision"] == "float32/no" and rep["loss_last"] < rep["loss_first"]
    assert any(isinstance(r, dict) and r.get("event") == "precision" for r in logged)
