"""Tokenizer augmentation on three tokenizer kinds, and the mean initialisation of new embedding rows."""
import pytest
import torch

from adapters.tiny import build_tokenizer
from adapters.tokenizer import augment_folder, augment_tokenizer, resize_and_init, tokens_per_kchar


def _domain(domain_root):
    return [p.read_text() for p in sorted(domain_root.glob("*.md"))]


@pytest.mark.parametrize("kind", ["spm-bpe", "byte-bpe", "wordpiece"])
def test_augmentation_shortens_domain_and_never_lengthens_general(kind, domain_root, general_texts):
    base = build_tokenizer(general_texts, 600, kind)
    dom = _domain(domain_root)
    tok, added = augment_tokenizer(base, dom, general_texts, train_vocab_size=800, min_frequency=2)
    assert added and len(tok) == len(base) + len(added)
    before, after = tokens_per_kchar(base, {"d": dom}), tokens_per_kchar(tok, {"d": dom})
    assert after["d"] < 0.95 * before["d"]
    old = base(general_texts, add_special_tokens=False)["input_ids"]
    new = tok(general_texts, add_special_tokens=False)["input_ids"]
    assert all(len(b) <= len(a) for a, b in zip(old, new))
    assert tok.decode(tok(dom[0], add_special_tokens=False)["input_ids"]).replace(" ", "") == \
        base.decode(base(dom[0], add_special_tokens=False)["input_ids"]).replace(" ", "")


def test_new_rows_are_mean_of_subtokens_and_padded(tiny_base, domain_root, general_texts):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    base = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    orig_in = model.get_input_embeddings().weight.detach().clone()
    orig_out = model.get_output_embeddings().weight.detach().clone()
    tok, added = augment_tokenizer(base, _domain(domain_root), general_texts, train_vocab_size=800, min_frequency=2)
    resize_and_init(model, base, tok, 64)
    w_in, w_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert w_in.shape[0] % 64 == 0 and w_in.shape[0] >= len(tok)
    for text in added[:5]:
        tid = tok.convert_tokens_to_ids(text)
        sub = base(text, add_special_tokens=False)["input_ids"]
        assert torch.allclose(w_in[tid], orig_in[sub].mean(0), atol=1e-6)
        assert torch.allclose(w_out[tid], orig_out[sub].mean(0), atol=1e-6)
    assert torch.equal(w_in[: len(base)], orig_in[: len(base)])


def test_augment_folder_reports_and_rejects_mismatch(tiny_base, tmp_path, domain_root, general_texts):
    from adapters.config import RecipeError, TokenizerSection
    cfg = TokenizerSection(train_vocab_size=800, min_frequency=2)
    rep = augment_folder(tiny_base, tmp_path / "aug", {"docs": _domain(domain_root)}, general_texts, cfg, tiny_base)
    assert rep["after"]["docs"] < rep["before"]["docs"] and rep["after"]["general"] <= rep["before"]["general"]
    assert (tmp_path / "aug" / "config.json").is_file()
    big = build_tokenizer(general_texts, 2000, "spm-bpe")
    big.save_pretrained(tmp_path / "aug")  # tokenizer larger than the model's embeddings
    with pytest.raises(RecipeError, match="do not match"):
        augment_folder(tmp_path / "aug", tmp_path / "x", {"docs": ["a"]}, general_texts, cfg, tmp_path / "aug")
