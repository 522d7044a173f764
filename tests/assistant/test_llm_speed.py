"""bench/llm_speed.py's measuring functions on the real SmolLM2-135M GGUF: every figure is measured, positive
and consistent (the prompt is the product's own, tokens are counted from the llama.cpp context)."""
from __future__ import annotations

import pytest

from assistant.llm.models import ModelMissing, install, resolve_model
from bench import llm_speed
from tests.conftest import ROOT

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make llm builds it)")
SMOL = "smollm2-135m"


@pytest.fixture(scope="module")
def smol_path():
    for folder in (None, ROOT / "models"):  # $CHIPASSIST_MODELS_DIR (or ./models), then the checkout's
        try:
            return resolve_model(SMOL, folder)
        except ModelMissing:
            pass
    return install(SMOL, ROOT / "models")


def _positive(result: dict, keys: tuple[str, ...]) -> None:
    for key in keys:
        assert isinstance(result[key], (int, float)) and result[key] > 0, (key, result[key])


def test_llamacpp_measure_on_the_product_prompt(smol_path, sample_index_master):
    result = llm_speed.measure_llamacpp(smol_path, sample_index_master, new_tokens=8, threads=1, k=1)
    _positive(result, ("load_s", "prompt_tokens", "n_sources", "model_bytes", "ttft_s", "decode_tokens",
                       "decode_tps", "total_s", "peak_rss_mb"))
    assert result["model_bytes"] == smol_path.stat().st_size
    # The product's grounded prompt: system rules, then the numbered source and the question.
    messages = result["messages"]
    assert messages[0]["role"] == "system" and '<source id="1"' in messages[-1]["content"]
    assert llm_speed.QUESTION in messages[-1]["content"]
    # Tokens from the context: the chat-templated prompt is longer than its text's tokens; at most 8 new ones.
    run = result["runs"][0]
    assert run["prompt_tokens"] > sum(len(m["content"]) for m in messages) / 8
    assert 1 <= run["decode_tokens"] <= 7 and result["ttft_s"] < result["total_s"]
    assert result["answer"].strip()
    # Warm: the system prompts were evaluated beforehand, so the question's prompt skips them, same length.
    warm = result["warm_runs"][0]
    assert warm["prompt_tokens"] == run["prompt_tokens"] and abs(run["prompt_evaluated"] - run["prompt_tokens"]) <= 1
    assert 0 < warm["prompt_evaluated"] < run["prompt_tokens"] and result["warm_up_s"] > 0
    assert result["warm_prompt_evaluated"] == warm["prompt_evaluated"] and result["warm_ttft_s"] > 0


def test_bandwidth_and_bound():
    bw = llm_speed.read_bandwidth(64 << 20, threads=2, repeats=2)
    _positive(bw, ("bytes", "gb_s", "gb_s_1thread"))
    assert bw["gb_s"] >= bw["gb_s_1thread"]
    entry = {"model_bytes": 1_000_000_000, "decode_tps": 5.0, "peak_rss_mb": 900.0, "rss_before_mb": 300.0}
    llm_speed.add_bounds(entry, 20.0)
    assert entry["bound_tps"] == 20.0 and entry["bound_share"] == 0.25 and entry["model_rss_mb"] == 600.0


@pytest.mark.slow  # dequantizing the GGUF to fp32 takes ~30 s on a busy 2-core machine
def test_transformers_measure_on_the_same_gguf(smol_path):
    pytest.importorskip("gguf", reason="transformers reads GGUF with the gguf package (pip install -e .[bench])")
    messages = [{"role": "user", "content": "Name three colours."}]
    result = llm_speed.measure_transformers(smol_path, messages, new_tokens=6, threads=1)
    _positive(result, ("load_s", "prompt_tokens", "model_bytes", "ttft_s", "decode_tokens", "decode_tps",
                       "total_s", "peak_rss_mb"))
    assert result["model_bytes"] > 4 * smol_path.stat().st_size  # fp32: far more bytes per token than Q4
    assert result["decode_tokens"] == 5
