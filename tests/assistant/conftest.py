"""Session fixtures for the Q&A tests: an index, a tiny Llama (with and without a LoRA adapter), and a real
OpenAI-compatible HTTP server backed by it (the stand-in for `vllm serve`).

The index is the shipped sample corpus's (`sample_index_master`); while corpora/sample is still empty, a
mini corpus with the same shape (docs, RTL, a Tcl flow and one restricted doc) is written and indexed instead.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assistant.config import LLMConfig, load_settings
from tests.conftest import SAMPLE
from tests.support.openai_server import OpenAIServer
from tests.support.tiny_llm import build_tiny_llama

RESTRICTED_GROUP = "silicon-team"  # the mini corpus's group; the sample corpus's comes from its index
MINI_CORPUS = {
    "docs/uart.md": """\
        # UART
        The UART sends and receives bytes over a serial line.
        ## Baud rate
        The baud rate is set by the DIV field of the CTRL register: baud = clk_freq / (16 * DIV).
        Write CTRL.DIV before setting CTRL.EN.
        """,
    "docs/dma.md": """\
        # DMA engine
        The DMA engine copies data between memory regions using descriptors (source, destination, length).
        ## Interrupts
        The DMA raises irq_done when the last descriptor completes and irq_error on a bus error.
        """,
    "docs/cru.md": """\
        # Clock and reset unit (CRU)
        The CRU generates the core clock from the PLL and synchronises reset de-assertion to each clock domain.
        """,
    "docs/restricted/tapeout.md": """\
        # Tapeout checklist
        The secret tapeout date for Pico SoC is codenamed BLUEFIN; foundry shuttle slot 42.
        """,
    "flows/synth.tcl": """\
        # yosys synthesis flow for the UART
        read_verilog rtl/uart.v
        synth -top uart_top
        write_verilog out/uart_synth.v
        """,
}


def _write_mini_corpus(root: Path) -> Path:
    for rel, text in MINI_CORPUS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "chipassist-acl.yaml").write_text(
        f'rules:\n  - glob: "docs/restricted/**"\n    groups: ["{RESTRICTED_GROUP}"]\n', encoding="utf-8")
    return root


def _build_mini_index(tmp_path_factory) -> Path:
    from retriever.index import build_index

    root = _write_mini_corpus(tmp_path_factory.mktemp("qa_corpus"))
    out = tmp_path_factory.mktemp("qa_index") / "index"
    build_index([root], out, progress=False)
    return out


@pytest.fixture(scope="session")
def qa_index(request, tmp_path_factory) -> Path:
    """An index to answer from: the shipped sample corpus's."""
    return request.getfixturevalue("sample_index_master")


@pytest.fixture(scope="session")
def restricted(qa_index, tmp_path_factory) -> tuple[Path, str, str, str]:
    """(index, path, group, a query that finds it) for a chunk under docs/restricted/: from ``qa_index``
    when it has one, else from the mini corpus (so the ACL test always runs)."""
    from retriever.index import Index

    for index in (qa_index, None):
        index = index or _build_mini_index(tmp_path_factory)
        chunk = next((c for c in Index.open(index).chunks() if c.source.startswith("docs/restricted/")), None)
        if chunk is not None:
            group = next(g for g in chunk.acl if g != "public")
            return index, chunk.source, group, f"{chunk.title} {chunk.text[:200]}"
    raise AssertionError("the mini corpus's docs/restricted/ chunk is missing from its index")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(SAMPLE.rglob("*")) if p.is_file()][:80]
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama", train_texts=texts or None)


@pytest.fixture(scope="session")
def tiny_adapter(tiny_model, tmp_path_factory) -> Path:
    """A LoRA adapter on the tiny model, trained for a few real steps so it changes the model's output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                           LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    batch = tok(["The UART baud rate is set by CTRL.DIV [1]."] * 4, return_tensors="pt")
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(8):
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        optim.step()
        optim.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses  # it really trained
    out = tmp_path_factory.mktemp("adapter") / "lora"
    model.save_pretrained(out)
    return out


def local_config(model_path: Path, **kw) -> LLMConfig:
    return LLMConfig(backend="local", model_path=model_path, max_new_tokens=24, temperature=0.0, **kw)


@pytest.fixture(scope="session")
def local_llm(tiny_model):
    from assistant.llm.local_backend import LocalBackend

    return LocalBackend(local_config(tiny_model))


@pytest.fixture(scope="session")
def openai_server(local_llm):
    """A real OpenAI-compatible server on 127.0.0.1 serving the tiny model as "tiny-llama" (key required)."""
    with OpenAIServer(local_llm, model_id="tiny-llama", api_key="test-key") as server:
        yield server


def make_bot(index: Path, tmp_path: Path, **llm):
    from assistant.service import Assistant

    llm = {"max_new_tokens": 24, "temperature": 0.0, **llm}
    return Assistant(load_settings(None, index_dir=index, data_dir=tmp_path / "data", llm=llm))
