"""SFT masks all but assistant tokens and trains (full and LoRA); export merges LoRA into a loadable bf16 folder;
AutoEval's log-likelihood scoring picks the right choice; gen-data derives samples from structure."""
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from adapters.autoeval import evaluate_mc
from adapters.config import GenDataSection, RecipeError
from adapters.data import chat_example
from adapters.export import export
from adapters.gendata import generate
from adapters.sft import run_sft


def test_labels_cover_only_assistant_replies(tiny_base):
    tok = AutoTokenizer.from_pretrained(tiny_base)
    msgs = [{"role": "user", "content": "What does the uart_ctrl register do?"},
            {"role": "assistant", "content": "It enables the UART."},
            {"role": "user", "content": "And dma?"}, {"role": "assistant", "content": "It starts transfers."}]
    ex = chat_example(tok, msgs, 512)
    learned = [t for t, l in zip(ex["input_ids"], ex["labels"]) if l != -100]
    text = tok.decode(learned)
    assert "It enables the UART." in text and "It starts transfers." in text
    assert "uart_ctrl" not in text and "user" not in text and "And dma" not in text
    assert learned.count(tok.eos_token_id) == 2 and not ex["cut"]
    # a weight-0 reply (a repair row's failing script) is context, not learnt; a row past the block is flagged
    msgs[1]["weight"] = 0
    ex = chat_example(tok, msgs, 512)
    text = tok.decode([t for t, l in zip(ex["input_ids"], ex["labels"]) if l != -100])
    assert "It starts transfers." in text and "It enables the UART." not in text
    assert "It enables the UART." in tok.decode(ex["input_ids"])
    assert [l for l in ex["labels"] if l != -100].count(tok.eos_token_id) == 1  # nor is the EOS after it
    assert chat_example(tok, msgs, 8)["cut"]


@pytest.fixture
def sft_data(domain_root, tmp_path):
    path = tmp_path / "sft.jsonl"
    rep = generate([domain_root], GenDataSection(min_answer_chars=5), path)
    assert rep["kept"] > 10 and set(rep["per_kind"]) >= {"qa", "tcl"}
    assert sum(v["dropped"] for v in rep["per_kind"].values()) > 0  # repeated sections are deduplicated
    return path


@pytest.mark.parametrize("method", ["full", "lora"])
def test_sft_loss_falls_and_export_loads(method, make_recipe, tiny_base, sft_data, tmp_path):
    r = make_recipe(sft={"method": method, "lr": 1e-2 if method == "lora" else 3e-3})
    rep = run_sft(r, tiny_base, sft_data, tmp_path / "sft", base_vocab=400, log=lambda x: None)
    assert rep["loss_last"] < rep["loss_first"]
    out = export(tmp_path / "sft" / "model", tmp_path / "export")
    assert out["serve"].startswith("vllm serve ")
    m = AutoModelForCausalLM.from_pretrained(tmp_path / "export")
    assert m.dtype == torch.bfloat16 and not any("lora" in n for n, _ in m.named_parameters())
    assert len(AutoTokenizer.from_pretrained(tmp_path / "export")) == len(AutoTokenizer.from_pretrained(tiny_base))


def test_rows_that_keep_no_answer_token_are_a_clear_error(make_recipe, tiny_base, tmp_path):
    rows = tmp_path / "long.jsonl"
    rows.write_text(json.dumps({"messages": [{"role": "user", "content": "Explain the uart_ctrl register. " * 20},
                                             {"role": "assistant", "content": "It enables the UART."}]}) + "\n")
    logged = []
    with pytest.raises(RecipeError, match="sft.block_size=16: no row keeps a token of its answer"):
        run_sft(make_recipe(sft={"block_size": 16, "general_ratio": 0.0}), tiny_base, rows, tmp_path / "s",
                log=logged.append)
    assert any("1 of 1 rows are longer" in x and "1 of them keep no answer token" in x for x in logged)


def test_weight_is_for_assistant_messages(tmp_path):
    from adapters.sft import load_samples
    p = tmp_path / "rows.jsonl"
    p.write_text(json.dumps({"messages": [{"role": "user", "content": "q", "weight": 0},
                                          {"role": "assistant", "content": "a"}]}) + "\n")
    with pytest.raises(RecipeError, match=r"rows.jsonl:1: \"weight\" \(assistant messages only\)"):
        load_samples(p)


def test_qlora_on_cpu_is_a_clear_error(make_recipe, tiny_base, sft_data, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CPU-only check")
    with pytest.raises(RecipeError, match="qlora needs a CUDA GPU"):
        run_sft(make_recipe(sft={"method": "qlora"}), tiny_base, sft_data, tmp_path / "s", log=print)


def test_autoeval_picks_the_choice_the_model_learned(tiny_base):
    from adapters.data import pack
    from adapters.tiny import pretrain
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    tok = AutoTokenizer.from_pretrained(tiny_base)
    facts = "Question: Which block owns resets?\nAnswer: cru\n\n" * 40
    pretrain(model, pack([facts], tok, 64), steps=40, lr=5e-3, batch_size=4)
    rows = [{"question": "Which block owns resets?", "choices": ["uart", "cru", "dma"], "answer": 1,
             "category": "design"}]
    res = evaluate_mc(model, tok, rows, shots=0)
    assert res["design"]["accuracy"] == 1.0 and res["overall"]["n"] == 1


@pytest.mark.gpu
def test_qlora_path_on_gpu():
    pytest.importorskip("bitsandbytes")
    assert torch.cuda.is_available()


def test_length_normalised_accuracy_scores_per_byte_of_the_choice(tiny_base):
    from adapters.autoeval import choice_logprobs
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    tok = AutoTokenizer.from_pretrained(tiny_base)
    # one short and two long choices: summed log-likelihood favours the short one for having fewer tokens
    q = {"question": "What does the reset controller do?", "category": "design", "answer": 1,
         "choices": ["uart", "holds every block in reset until its clock is stable",
                     "sends bytes over the serial line at the configured baud rate"]}
    scores = choice_logprobs(model, tok, "Question: What does the reset controller do?\nAnswer:", q["choices"])
    raw = max(range(3), key=scores.__getitem__)
    norm = max(range(3), key=lambda i: scores[i] / len((" " + q["choices"][i]).encode()))
    for answer in range(3):
        res = evaluate_mc(model, tok, [{**q, "answer": answer}], shots=0)["overall"]
        assert res["accuracy"] == float(answer == raw) and res["accuracy_norm"] == float(answer == norm)
    assert raw == 0  # an untrained model: the fewest tokens win without normalisation


def test_autoeval_under_bf16_autocast_agrees_with_fp32(tiny_base, tmp_path):
    from adapters.autoeval import run_autoeval
    rows = [{"question": f"Which block owns resets {i}?", "choices": ["uart", "cru", "dma", "hmac"], "answer": i % 4,
             "category": "design"} for i in range(8)]
    f = tmp_path / "mc.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows))
    held = {"domain": ["module uart(input clk); reg [7:0] data; endmodule " * 8]}
    fp32 = run_autoeval(tiny_base, [f], held, shots=2)
    bf16 = run_autoeval(tiny_base, [f], held, shots=2, mixed_precision="bf16")
    assert bf16["mixed_precision"] == "bf16" and bf16["mc"]["mc.jsonl"]["overall"]["n"] == 8
    assert bf16["domain_ppl"] == pytest.approx(fp32["domain_ppl"], rel=0.05)
    assert bf16["domain_ppl"] != fp32["domain_ppl"]  # bf16 kernels really ran


def test_sft_rows_from_a_file_are_checked_then_trained_on(make_recipe, tiny_base, tmp_path):
    """`gendata.file` (rows written elsewhere, e.g. `chipassist tcl sft-data`): a malformed line is named before
    any compute; good rows become the SFT data, and editing the file reruns gen-data and SFT."""
    from pathlib import Path

    from adapters.pipeline import Pipeline
    rows = tmp_path / "rows.jsonl"
    good = [{"id": f"t{i}", "kind": "tcl", "messages": [
        {"role": "user", "content": f"Synthesize block{i}."},
        {"role": "assistant", "content": f"```tcl\nyosys synth -top block{i}\n```"}]} for i in range(8)]
    rows.write_text("".join(json.dumps(r) + "\n" for r in good[:3])
                    + json.dumps({"messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]})
                    + "\n")
    r = make_recipe(model={"base": str(tiny_base), "tiny": None}, gendata={"file": str(rows)},
                    sft={"method": "lora", "max_steps": 2, "general_ratio": 0.0})
    with pytest.raises(RecipeError, match=r"rows\.jsonl:4: the last message must be the assistant's"):
        Pipeline(r, log=lambda m: None).run(["gen-data", "sft"])
    unlearnt = {"messages": [{"role": "user", "content": "y"}, {"role": "assistant", "content": "x", "weight": 0}]}
    rows.write_text(json.dumps(good[0]) + "\n" + json.dumps(unlearnt) + "\n")
    with pytest.raises(RecipeError, match=r"rows\.jsonl:2: \"weight\" \(assistant messages only\) is 0"):
        Pipeline(r, log=lambda m: None).run(["gen-data", "sft"])
    rows.write_text("".join(json.dumps(x) + "\n" for x in good))
    p = Pipeline(r, log=lambda m: None)
    keys = {s: p.stage_key(s) for s in ("gen-data", "sft")}
    rep = p.run(["gen-data", "sft"])
    assert rep["stages"]["gen-data"]["samples"] == 8 and rep["stages"]["gen-data"]["per_kind"] == {"tcl": 8}
    assert rep["stages"]["sft"]["samples"] == 8 and rep["stages"]["sft"]["steps_done"] == 2
    assert (Path(r.output_dir) / "gendata" / "sft.jsonl").read_text() == rows.read_text()
    rows.write_text(rows.read_text() + json.dumps(good[0]) + "\n")
    assert all(p.stage_key(s) != k for s, k in keys.items())


def test_pipeline_logs_a_stage_message_as_well_as_step_records(make_recipe):
    """run_sft logs its cut-rows warning as text through the pipeline's step logger, which must not choke on it."""
    import json as _json

    from adapters.pipeline import Pipeline
    out: list = []
    p = Pipeline(make_recipe(), log=out.append)
    p._log_step("sft: 3 of 10 rows are longer than sft.block_size=64 tokens and are cut")
    p._log_step({"event": "step", "step": 3, "loss": 1.0})
    p._log_step({"event": "step", "step": 10, "loss": 0.5})
    assert out == ["sft: 3 of 10 rows are longer than sft.block_size=64 tokens and are cut",
                   _json.dumps({"event": "step", "step": 10, "loss": 0.5})]
