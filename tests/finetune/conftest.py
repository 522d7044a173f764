"""Fixtures for retriever fine-tuning: a tiny sentence-transformers model built locally, and generated pairs.

The tiny model (2-layer BERT, hidden 32, a WordPiece vocabulary trained on the sample corpus, mean pooling)
trains for real in seconds on CPU; nothing is downloaded.
"""
from __future__ import annotations

from pathlib import Path

import pytest


def make_tiny_model(folder: Path, texts: list[str]) -> Path:
    """Save a randomly initialised 2-layer BERT + mean pooling as a sentence-transformers folder."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=800, special_tokens=special))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    raw = folder / "raw"
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(raw)
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(raw)
    word = Transformer(str(raw), max_seq_length=64)
    model = SentenceTransformer(modules=[word, Pooling(word.get_embedding_dimension(), "mean")], device="cpu")
    out = folder / "tiny-st"
    model.save(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, sample_dir) -> Path:
    texts = [p.read_text(errors="ignore") for p in sorted(sample_dir.rglob("*")) if p.is_file()]
    return make_tiny_model(tmp_path_factory.mktemp("tiny_model"), texts)


@pytest.fixture(scope="session")
def sample_pairs(sample_index_master, tmp_path_factory):
    """Derived pairs from the sample index (rows, report, file)."""
    from retriever.finetune.config import PairsConfig
    from retriever.finetune.gen_pairs import generate_pairs, write_pairs
    from retriever.index import Index

    rows, report = generate_pairs(Index.open(sample_index_master), PairsConfig(max_pairs=300, heldout_fraction=0.2),
                                  progress=False)
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    write_pairs(rows, path)
    return rows, report, path
