"""ChipNeMo in miniature on the real SmolLM2-135M GGUF: import to safetensors, byte-level BPE tokenizer
augmentation, bad input refused before compute (non-GGUF, unsupported architecture, special-token collisions,
a time budget that cannot fit one step, no domain text after the ACL filter), AutoEval's cached scoring, the
report's goals, and a pipeline run that resumes after an interruption."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from adapters.config import RecipeError, load_recipe

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"


def _gguf_header(path: Path, arch: str) -> Path:
    """A GGUF file with one tiny tensor and the given `general.architecture` (the gguf package's writer)."""
    import numpy as np
    from gguf import GGUFWriter
    w = GGUFWriter(str(path), arch)
    w.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="session")
def smol_tok(smol_gguf):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(smol_gguf.parent, gguf_file=smol_gguf.name)


# -- import -------------------------------------------------------------------------------------------------
def test_import_refuses_non_gguf_and_unsupported_architecture(tmp_path):
    from adapters.gguf_import import check_importable, import_gguf
    (tmp_path / "model.gguf").write_text("not a model")
    with pytest.raises(RecipeError, match="not a GGUF file"):
        import_gguf(tmp_path / "model.gguf", tmp_path / "out")
    with pytest.raises(RecipeError, match="architecture 'rwkv6' cannot be loaded"):
        import_gguf(_gguf_header(tmp_path / "rwkv.gguf", "rwkv6"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert check_importable(_gguf_header(tmp_path / "llama.gguf", "llama")) == "llama"  # 13B/8B GGUFs say this


def test_import_gguf_cli_names_the_bad_file(tmp_path):
    from typer.testing import CliRunner

    from assistant.cli import app
    (tmp_path / "x.gguf").write_bytes(b"PK\x03\x04zip")
    res = CliRunner().invoke(app, ["adapt", "import-gguf", str(tmp_path / "x.gguf"), "--out", str(tmp_path / "o")])
    out = " ".join(res.output.split())  # the console wraps long paths at its width
    assert res.exit_code != 0 and "not a GGUF file" in out and "x.gguf" in out


@pytest.mark.slow
def test_import_real_smollm2_gguf(smol_gguf, tmp_path):
    """~30 s: the real Q4_1 GGUF becomes a safetensors folder that reloads, keeps its chat template and runs."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from adapters.gguf_import import import_gguf
    rep = import_gguf(smol_gguf, tmp_path / "smol")
    assert rep["architecture"] == "llama" and rep["vocab"] == 49152 and 1.3e8 < rep["parameters"] < 1.4e8
    assert (tmp_path / "smol" / "model.safetensors").is_file() and not (tmp_path / "smol.tmp").exists()
    tok = AutoTokenizer.from_pretrained(tmp_path / "smol")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "smol")
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert "<|im_start|>user" in chat
    ids = tok("The capital of France is", return_tensors="pt")["input_ids"]
    nxt = tok.decode(model(input_ids=ids).logits[0, -1].argmax())
    assert "Paris" in nxt  # a real pretrained model, not random weights


# -- byte-level BPE tokenizer augmentation --------------------------------------------------------------------
def test_bpe_augmentation_on_smollm2_tokenizer(smol_tok, domain_root, general_texts):
    from adapters.data import split_heldout
    from adapters.tokenizer import augment_tokenizer, report_kinds, tokens_per_kchar
    assert type(smol_tok.backend_tokenizer.model).__name__ == "BPE" and len(smol_tok) == 49152
    dom = [p.read_text() for p in sorted(domain_root.glob("*.md"))]
    fit, held = split_heldout(general_texts, 0.3)
    tok, added = augment_tokenizer(smol_tok, dom, fit, train_vocab_size=50_000, min_frequency=3)
    assert added and all(t not in smol_tok.get_vocab() for t in added)
    kinds = report_kinds({"docs": dom})
    assert kinds["tcl"] and all("read_verilog" in t or "set_clock" in t for t in kinds["tcl"])
    before, after = tokens_per_kchar(smol_tok, kinds), tokens_per_kchar(tok, kinds)
    assert after["docs"] <= 0.97 * before["docs"]  # the goal: >= 3% fewer domain tokens
    old = smol_tok(held, add_special_tokens=False)["input_ids"]
    new = tok(held, add_special_tokens=False)["input_ids"]
    assert sum(map(len, new)) <= sum(map(len, old))  # held-out general text never longer
    text = dom[0]
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text  # lossless


def test_added_tokens_colliding_with_special_tokens_are_refused(smol_tok, tmp_path, general_texts):
    from adapters.config import TokenizerSection
    from adapters.tokenizer import augment_folder, augment_tokenizer, check_special_collisions
    assert check_special_collisions(smol_tok, ["<|im_end|>", "x<|endoftext|>", "im_start|>", "prng"]) == \
        ["<|im_end|>", "x<|endoftext|>", "im_start|>"]
    with pytest.raises(RecipeError, match=r"tokenizer.extra_tokens: \['<\|im_end\|>'\] collide"):
        augment_tokenizer(smol_tok, ["prng " * 50], general_texts, extra_tokens=["prng_seed", "<|im_end|>"])
    smol_tok.save_pretrained(tmp_path / "tok")
    cfg = TokenizerSection(extra_tokens=["<|im_start|>"])
    with pytest.raises(RecipeError, match="collide"):  # refused before any model is loaded or trained
        augment_folder(tmp_path / "tok", tmp_path / "out", {"docs": ["x"]}, general_texts, cfg, tmp_path / "none")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_smollm2_new_rows_are_mean_of_subtokens(smol_gguf, smol_tok, domain_root, general_texts):
    from transformers import AutoModelForCausalLM

    from adapters.tokenizer import augment_tokenizer, resize_and_init
    model = AutoModelForCausalLM.from_pretrained(smol_gguf.parent, gguf_file=smol_gguf.name)
    orig = model.get_input_embeddings().weight.detach().clone()
    dom = [p.read_text() for p in sorted(domain_root.glob("*.md"))]
    tok, added = augment_tokenizer(smol_tok, dom, general_texts, train_vocab_size=50_000, min_frequency=3)
    resize_and_init(model, smol_tok, tok, 64)
    w = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight.data_ptr() == w.data_ptr()  # SmolLM2 ties them
    for text in added[:5]:
        sub = smol_tok(text, add_special_tokens=False)["input_ids"]
        assert torch.allclose(w[tok.convert_tokens_to_ids(text)], orig[sub].mean(0), atol=1e-6)


# -- recipe and pipeline --------------------------------------------------------------------------------------
def test_smollm2_recipe_loads_with_every_stage():
    r = load_recipe("adapters/recipes/smollm2-135m-cpu.yaml")
    assert r.stages[0] == "import" and r.stages[-1] == "serve" and r.model.gguf.suffix == ".gguf"
    # the whole recipe fits an hour: import, tokenizer, gen-data, export and AutoEval take ~15 min of it
    assert r.dapt.time_budget_min + r.sft.time_budget_min <= 45 and r.data.fallback_roots
    assert r.dapt.mixed_precision == r.sft.mixed_precision == r.autoeval.mixed_precision == "bf16"
    assert "Launch" in Path("adapters/recipes/smollm2-135m-cpu.yaml").read_text()


def test_time_budget_that_cannot_fit_one_step_stops_before_compute(make_recipe, tiny_base, monkeypatch):
    import adapters.dapt
    from adapters.pipeline import Pipeline
    r = make_recipe(model={"base": str(tiny_base), "tiny": None}, dapt={"time_budget_min": 1e-7})
    monkeypatch.setattr(adapters.dapt, "run_dapt", lambda *a, **k: pytest.fail("trained despite the budget"))
    with pytest.raises(RecipeError, match=r"dapt.time_budget_min=1e-07: one step .* needs at least"):
        Pipeline(r, log=lambda m: None).run(["dapt"])


def test_no_domain_text_after_acl_filter_stops_before_compute(make_recipe, tmp_path):
    root = tmp_path / "secret"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "errata.md").write_text("# Errata\n\nThe DMA engine drops the last beat. " * 20)
    (root / "chipassist-acl.yaml").write_text('rules:\n  - glob: "docs/**"\n    groups: [silicon-team]\n')
    from adapters.pipeline import Pipeline
    r = make_recipe(data={"domain_roots": [str(root)]})
    with pytest.raises(RecipeError, match=r"no domain text left after ACL filtering"):
        Pipeline(r, log=lambda m: None).run(["tokenizer", "dapt"])
    assert not (Path(r.output_dir) / "base").exists()  # the tiny base was never built


def test_interrupted_pipeline_resumes_from_its_last_checkpoint(make_recipe, tiny_base, monkeypatch):
    from adapters.pipeline import Pipeline
    r = make_recipe(model={"base": str(tiny_base), "tiny": None})
    real = os.replace

    def die_at_step_8(src, dst):  # the machine goes down while checkpoint 8 is moved into place
        if "step-0000008" in str(dst):
            raise KeyboardInterrupt
        real(src, dst)
    monkeypatch.setattr(os, "replace", die_at_step_8)
    with pytest.raises(KeyboardInterrupt):
        Pipeline(r, log=lambda m: None).run(["tokenizer", "dapt"])
    monkeypatch.setattr(os, "replace", real)
    logs: list = []
    rep = Pipeline(r, log=logs.append).run(["tokenizer", "dapt"])
    assert any("tokenizer: done in an earlier run" in str(m) for m in logs)  # finished stage not redone
    assert '{"event": "resumed", "step": 4}' in logs
    assert rep["stages"]["dapt"]["steps_done"] == 12 and len(rep["stages"]["dapt"]["losses"]) == 12
    assert (Path(r.output_dir) / "loss.png").stat().st_size > 1000


def test_cached_choice_scoring_equals_full_forward(tiny_base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from adapters.autoeval import _EMPTY, _extend, choice_logprobs
    tok, model = AutoTokenizer.from_pretrained(tiny_base), AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    demo, prompt = "Question: what is 1?\nAnswer: one\n\n", "Question: which register gates the clock?\nAnswer:"
    choices = ["uart_ctrl", "the clock gate", "dma"]

    def full(c):  # the plain, uncached computation
        p = tok(demo + prompt, add_special_tokens=False)["input_ids"]
        ids = tok(demo + prompt + " " + c, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            lp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], -1)
        return sum(lp[t - 1, ids[t]].item() for t in range(len(p), len(ids)))
    with torch.no_grad():
        state = _extend(model, _EMPTY, tok(demo, add_special_tokens=False)["input_ids"])[0]
        cached = choice_logprobs(model, tok, demo + prompt, choices, state)
    assert cached == pytest.approx([full(c) for c in choices], abs=1e-3)


def test_report_goals_say_met_or_by_how_much():
    from adapters.report import goals, summary_markdown
    mc = lambda d, g: {"autoeval_domain.jsonl": {"overall": {"accuracy": d, "n": 150}, "openroad": {"accuracy": d, "n": 150}},  # noqa: E731
                       "autoeval_general.jsonl": {"overall": {"accuracy": g, "n": 100}}}
    rep = {"recipe": "t", "stages": {
        "tokenizer": {"added": 3, "before": {"domain": 300, "general": 200}, "after": {"domain": 288, "general": 200},
                      "change_pct": {"domain": -4.0, "general": 0.0}},
        "autoeval": {"models": {"base": {"mc": mc(0.40, 0.50), "domain_ppl": 20.0, "general_ppl": 10.0},
                                "dapt": {"mc": mc(0.42, 0.50), "domain_ppl": 15.0, "general_ppl": 10.2},
                                "dapt+sft": {"mc": mc(0.47, 0.48), "domain_ppl": 15.5, "general_ppl": 10.3}}}}}
    g = goals(rep)
    assert g["domain_mc_gain_pts"] == {"value": 7.0, "target": 5.0, "met": True}
    assert g["general_mc_drop_pts"]["value"] == 2.0 and g["general_mc_drop_pts"]["met"] is False
    assert g["domain_ppl_change_pct"]["value"] == -25.0 and g["domain_ppl_change_pct"]["met"] is False
    assert g["domain_token_change_pct"]["met"] and g["general_token_change_pct"]["met"]
    md = summary_markdown(rep)
    assert "| autoeval_domain / openroad (n=150) | 40.0 / 40.0 | 42.0 / 42.0 | 47.0 / 47.0 |" in md  # norm / raw
    assert "| held-out domain perplexity (per base token) | 20.0 | 15.0 | 15.5 |" in md


def test_autoeval_reads_the_bench_sets_when_present(tmp_path):
    from adapters.autoeval import load_mc, mc_sets
    f = tmp_path / "autoeval_domain.jsonl"
    f.write_text(json.dumps({"id": "or-1", "category": "openroad_commands", "question": "Which command?",
                             "choices": ["a", "b", "c", "d"], "answer": 1, "source": "x"}) + "\n")
    assert mc_sets([], [f, tmp_path / "absent.jsonl"]) == [f]
    assert load_mc(f)[0]["answer"] == 1 and load_mc(f)[0]["category"] == "openroad_commands"
    f.write_text(f.read_text() + "{not json\n")
    with pytest.raises(RecipeError, match=r"autoeval_domain\.jsonl:2: not JSON"):
        load_mc(f)
    r = load_recipe("adapters/recipes/smollm2-135m-cpu.yaml")
    assert {p.name for p in r.autoeval.optional_mc_files} == {"autoeval_domain.jsonl", "autoeval_general.jsonl"}


# -- the 13B/8B recipes: same import step and BPE path, dry run ------------------------------------------------
@pytest.mark.parametrize("name", ["llama2-13b", "llama3-8b"])
def test_real_recipes_import_gguf_and_take_the_bpe_path_dry_run(name, tmp_path, domain_root, general_texts,
                                                                monkeypatch):
    import adapters.gguf_import
    from adapters.pipeline import Pipeline
    from adapters.tiny import build_tokenizer
    from adapters.tokenizer import augment_folder
    gguf = _gguf_header(tmp_path / f"{name}.gguf", "llama")
    r = load_recipe(f"adapters/recipes/{name}.yaml", [f"model.gguf={gguf}", f"output_dir={tmp_path / 'run'}",
                                                      f"data.domain_roots=[{domain_root}]"])
    assert (r.dapt.lr, r.dapt.betas, r.dapt.global_batch_size, r.dapt.block_size) == (5e-6, (0.9, 0.95), 256, 4096)
    p = Pipeline(r, log=lambda m: None)
    p.preflight(["tokenizer", "dapt"])  # the GGUF's architecture is checked before any compute
    calls = []

    def fake_import(src, out, dtype="float32"):  # no 8B weights here: record the step instead of running it
        calls.append(Path(src))
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        return {"folder": str(out)}
    monkeypatch.setattr(adapters.gguf_import, "import_gguf", fake_import)
    assert p.base_dir() == tmp_path / "run" / "base" and calls == [gguf]
    # Llama 3's tokenizer is a byte-level BPE: the recipe's tokenizer settings (vocab scaled down) on that kind
    base = build_tokenizer(general_texts, 600, "byte-bpe")
    base.save_pretrained(tmp_path / "tok")
    cfg = r.tokenizer.model_copy(update={"train_vocab_size": 800, "min_frequency": 2})
    rep = augment_folder(tmp_path / "tok", tmp_path / "aug", {"docs": [x.read_text() for x in domain_root.glob("*.md")]},
                         general_texts, cfg)
    assert rep["kind"] == "BPE" and rep["added"] > 0 and rep["after"]["docs"] < rep["before"]["docs"]
    from typer.testing import CliRunner

    from assistant.cli import app
    res = CliRunner().invoke(app, ["adapt", "dry-run", f"adapters/recipes/{name}.yaml", "--set", f"model.gguf={gguf}"])
    assert res.exit_code == 0 and '"total_gib"' in res.output


# -- export to GGUF and serve through the assistant's llamacpp backend ---------------------------------------
def test_gguf_export_refuses_a_non_llama_source(tmp_path, tiny_base):
    from adapters.gguf_export import export_gguf
    with pytest.raises(RecipeError, match="llama and qwen2 architectures, not .rwkv6.*local"):
        export_gguf(tiny_base, _gguf_header(tmp_path / "r.gguf", "rwkv6"), tmp_path / "o.gguf")


@pytest.mark.slow
def test_adapted_smollm2_exports_to_gguf_and_answers_through_llamacpp(smol_gguf, smol_tok, tmp_path, domain_root,
                                                                      general_texts):
    """~1-2 min: import, add domain tokens, export F16 GGUF; llama.cpp tokenizes exactly as the adapted
    tokenizer does and the assistant's llamacpp backend answers."""
    from adapters.config import TokenizerSection
    from adapters.gguf_export import export_gguf
    from adapters.gguf_import import import_gguf
    from adapters.tokenizer import augment_folder
    from assistant.cli.adapt_cmds import _answer
    import_gguf(smol_gguf, tmp_path / "base")
    docs = [p.read_text() for p in sorted(domain_root.glob("*.md"))]
    rep = augment_folder(tmp_path / "base", tmp_path / "aug", {"docs": docs}, general_texts,
                         TokenizerSection(train_vocab_size=50_000, min_frequency=3), tmp_path / "base")
    assert rep["added"] > 0
    out = export_gguf(tmp_path / "aug", smol_gguf, tmp_path / "model.gguf")
    assert out["added"] == rep["added"] and out["tokens"] == rep["embedding_rows"]
    from llama_cpp import Llama
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tmp_path / "aug")
    llm = Llama(str(tmp_path / "model.gguf"), n_ctx=256, verbose=False, n_threads=2)
    text = docs[0][:400]
    assert llm.tokenize(text.encode(), add_bos=False) == tok(text, add_special_tokens=False)["input_ids"]
    answer = _answer(tmp_path / "model.gguf", "What is the capital of France?", 16, "llamacpp")
    assert "Paris" in answer


def test_added_tokens_take_the_padding_slots_of_a_base_gguf_under_their_own_text():
    """Qwen2's GGUF lists padding ids past its tokenizer's last: domain tokens added there keep their text."""
    from gguf import TokenType

    from adapters.gguf_export import token_list

    class Tok:  # the adapted tokenizer: 3 base ids and 2 added ones
        names = ["a", "b", "c", "uart_tx", "cru_rst"]

        def __len__(self):
            return len(self.names)

        def convert_ids_to_tokens(self, i):
            return self.names[i]
    base = ["a", "b", "c", "[PAD3]", "[PAD4]", "[PAD5]"]
    types = [TokenType.NORMAL] * 3 + [TokenType.UNUSED] * 3
    tokens, kinds, added = token_list(base, types, Tok(), 7)
    assert tokens == ["a", "b", "c", "uart_tx", "cru_rst", "[PAD5]", "[PAD6]"] and added == 2
    assert kinds[3:5] == [TokenType.USER_DEFINED] * 2 and kinds[5:] == [TokenType.UNUSED] * 2
    assert token_list(base[:3], types[:3], Tok(), 5)[0] == Tok.names  # no padding in the base: appended


def test_a_changed_setting_reruns_only_the_stages_that_depend_on_it(make_recipe):
    from adapters.pipeline import Pipeline
    a = Pipeline(make_recipe(), log=lambda m: None)
    b = Pipeline(make_recipe(dapt={"lr": 1e-2}), log=lambda m: None)
    assert a.stage_key("tokenizer") == b.stage_key("tokenizer")
    assert a.stage_key("dapt") != b.stage_key("dapt") and a.stage_key("autoeval") != b.stage_key("autoeval")
    c = make_recipe(dapt={"time_budget_min": 30})
    assert c.fingerprint("dapt") == make_recipe().fingerprint("dapt")  # a bigger budget resumes the checkpoint


def test_a_base_folder_written_again_reruns_the_stages_on_it(make_recipe, tmp_path):
    """Round 2 of an SFT starts from round 1's export: a redone round 1 must not leave round 2's checkpoints."""
    import os

    from adapters.pipeline import Pipeline
    base = tmp_path / "round1" / "export"
    base.mkdir(parents=True)
    (base / "config.json").write_text("{}")
    (base / "model.safetensors").write_bytes(b"x" * 8)
    recipe = make_recipe(model={"base": str(base), "tiny": None})
    before = Pipeline(recipe, log=lambda m: None).stage_key("sft")
    assert Pipeline(recipe, log=lambda m: None).stage_key("sft") == before
    (base / "model.safetensors").write_bytes(b"y" * 8)
    os.utime(base / "model.safetensors", ns=(1, 1))
    assert Pipeline(recipe, log=lambda m: None).stage_key("sft") != before


def test_an_edited_question_set_reruns_autoeval_only(make_recipe, tmp_path):
    """Questions added to an MC file under the same name make AutoEval run again; training is kept."""
    from adapters.pipeline import Pipeline
    mc = tmp_path / "mc.jsonl"
    row = {"id": "q1", "category": "c", "question": "2+2?", "choices": ["3", "4", "5", "6"], "answer": 1}
    mc.write_text(json.dumps(row) + "\n")
    recipe = make_recipe(autoeval={"mc_files": [str(mc)]})
    before = {s: Pipeline(recipe, log=lambda m: None).stage_key(s) for s in ("dapt", "sft", "autoeval")}
    mc.write_text(mc.read_text() + json.dumps({**row, "id": "q2", "question": "3+3?"}) + "\n")
    after = {s: Pipeline(recipe, log=lambda m: None).stage_key(s) for s in ("dapt", "sft", "autoeval")}
    assert before["dapt"] == after["dapt"] and before["sft"] == after["sft"]
    assert before["autoeval"] != after["autoeval"]


def _tiny_qwen2(smol_gguf, smol_tok, folder: Path) -> Path:
    """A random 2-layer Qwen2 model with SmolLM2's tokenizer, and a qwen2 GGUF holding only its metadata (what
    export_gguf copies: hyperparameters, tokenizer, chat template), as an import of a real Qwen2 GGUF leaves."""
    from gguf import GGUFReader, GGUFValueType, GGUFWriter
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(smol_tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(cfg)
    with torch.no_grad():  # Qwen2 has Q/K/V biases: make them matter
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0, 0.5)
    model.save_pretrained(folder)
    smol_tok.save_pretrained(folder)
    src = folder.parent / "qwen2_meta.gguf"
    w = GGUFWriter(str(src), "qwen2")
    for name, field in GGUFReader(str(smol_gguf)).fields.items():
        if name.startswith("tokenizer."):
            vtype = field.types[0]
            w.add_key_value(name, field.contents(), vtype,
                            sub_type=field.types[-1] if vtype == GGUFValueType.ARRAY else None)
    w.add_context_length(256)
    w.add_embedding_length(64)
    w.add_block_count(2)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return src


def test_a_qwen2_model_exports_to_gguf_and_quantizes_computing_what_transformers_computes(smol_gguf, smol_tok,
                                                                                        tmp_path):
    """The embedded model's architecture (Qwen2: biases, no rotary permutation, tied output): llama.cpp's logits
    on the exported F16 GGUF, and on its Q8_0 quantization, match the transformers model's."""
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM

    from adapters.gguf_export import export_gguf, quantize
    src = _tiny_qwen2(smol_gguf, smol_tok, tmp_path / "qwen2")
    rep = export_gguf(tmp_path / "qwen2", src, tmp_path / "model.gguf")
    assert rep["added"] == 0 and rep["tokens"] == len(smol_tok)
    q = quantize(tmp_path / "model.gguf", tmp_path / "model.Q8_0.gguf", "Q8_0")
    assert q["bytes"] < rep["bytes"] and not (tmp_path / "model.Q8_0.gguf.tmp").exists()
    ids = smol_tok("module uart_tx (input clk); endmodule", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        want = AutoModelForCausalLM.from_pretrained(tmp_path / "qwen2")(torch.tensor([ids])).logits[0].numpy()
    for path, tol in ((tmp_path / "model.gguf", 0.02), (tmp_path / "model.Q8_0.gguf", 0.05)):
        llm = Llama(str(path), n_ctx=64, logits_all=True, verbose=False, n_threads=2)
        llm.eval(ids)
        got = llm.scores[: len(ids)]
        assert abs(got - want).max() / abs(want).max() < tol, path.name
        assert (got.argmax(-1) == want.argmax(-1)).mean() > 0.9
    with pytest.raises(RecipeError, match="not one of"):
        quantize(tmp_path / "model.gguf", tmp_path / "x.gguf", "Q2_K")
