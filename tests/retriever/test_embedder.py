"""Embedder backends: the ONNX and int8 exports agree with torch, are cached outside the model folder, and
bad options are refused by name."""
from __future__ import annotations

import json

import numpy as np
import pytest

from retriever.embedder import Embedder, default_model_path

TEXTS = [
    "How do I set the target placement density for global placement?",
    "The DMA engine raises an error interrupt when a transfer hits an unmapped address.",
    "module uart_tx (input clk_i, input rst_ni, output logic tx_o);",
    "x",
    "set_wire_rc -signal -layer metal3 ; estimate_parasitics -placement " * 20,  # longer than 256 tokens
]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx_cache")


@pytest.fixture(scope="session")
def torch_vectors():
    return Embedder().embed_documents(TEXTS)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_backends_match_torch(backend, onnx_cache, torch_vectors):
    e = Embedder(backend=backend, cache_dir=onnx_cache)
    vecs = e.embed_documents(TEXTS)
    assert vecs.shape == (len(TEXTS), e.dim) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    cosine = (vecs * torch_vectors).sum(axis=1)
    assert cosine.min() > (0.999 if backend == "onnx" else 0.95), cosine
    # the query path is the same encoder
    assert float(e.embed_query(TEXTS[0]) @ torch_vectors[0]) > 0.95
    assert e.describe()["backend"] == backend


def test_onnx_passes_run_side_by_side_and_keep_input_order(onnx_cache):
    e = Embedder(backend="onnx", cache_dir=onnx_cache, threads=2)
    texts = [f"{t} ({i})" for i in range(6) for t in TEXTS]  # the 256-token budget makes many batches
    parallel = e.embed_documents(texts)
    assert e._onnx._pass_session is not None, "several batches should run one pass per core"
    e._onnx.workers = 1
    serial = e.embed_documents(texts)
    np.testing.assert_allclose(parallel, serial, atol=1e-5)
    one_by_one = np.stack([e.embed_query(t) for t in texts[::7]])
    np.testing.assert_allclose(parallel[::7], one_by_one, atol=1e-4)


def test_exports_are_cached_outside_the_model_folder(onnx_cache, torch_vectors):
    Embedder(backend="onnx-int8", cache_dir=onnx_cache)
    exported = sorted(p.name for p in onnx_cache.rglob("*.onnx"))
    assert exported == ["model.onnx", "model_int8.onnx"]
    assert not list(default_model_path().rglob("*.onnx"))
    assert not [p for p in onnx_cache.rglob(".*") if p.is_file()], "temporary export files left behind"


def test_input_order_and_empty_input(torch_vectors):
    e = Embedder()
    single = np.stack([e.embed_query(t) for t in TEXTS])  # no batching, no sorting
    np.testing.assert_allclose(single, torch_vectors, atol=1e-4)
    assert e.embed_documents([]).shape == (0, e.dim)


def test_max_seq_length_truncates():
    e = Embedder(max_seq_length=16)
    assert e.describe()["max_seq_length"] == 16
    long_a = "clock gating " * 40 + "first ending"
    long_b = "clock gating " * 40 + "a completely different ending about routing congestion"
    a, b = e.embed_documents([long_a, long_b])
    assert float(a @ b) > 0.9999  # both truncated before they differ


def test_bad_options_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="backend"):
        Embedder(backend="tensorrt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(batch_size=0)
    with pytest.raises(FileNotFoundError, match="nope"):
        Embedder(tmp_path / "nope")
    with pytest.raises(ValueError, match="not a sentence-transformers model"):
        Embedder(tmp_path)


def test_fingerprint_hashes_weight_content_and_caches_it(tmp_path, monkeypatch):
    """A fine-tuned copy (same configs, same weight size, other bytes) must not share its base's fingerprint."""
    import retriever.embedder as emb

    monkeypatch.setenv("CHIPASSIST_CACHE", str(tmp_path / "cache"))
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    for folder, weights in ((base, b"\x00" * 4096), (tuned, b"\x00" * 4095 + b"\x01")):
        folder.mkdir()
        (folder / "config.json").write_text('{"hidden_size": 8}')
        (folder / "model.safetensors").write_bytes(weights)
    assert emb.model_fingerprint(base) != emb.model_fingerprint(tuned)
    assert (tmp_path / "cache" / "digests.json").is_file()
    # a repeat is served from the disk cache (keyed by path, size, mtime): plant a digest and see it used
    store = tmp_path / "cache" / "digests.json"
    saved = json.loads(store.read_text())
    key = next(k for k in saved if k.startswith(str((base / "model.safetensors").resolve())))
    first = emb.model_fingerprint(base)
    store.write_text(json.dumps({**saved, key: "planted"}))
    emb._DIGESTS.clear()
    assert emb.model_fingerprint(base) != first
    # rewriting the weights (new mtime) invalidates the cached digest
    (base / "model.safetensors").write_bytes(b"\x00" * 4095 + b"\x01")
    assert emb.model_fingerprint(base) == emb.model_fingerprint(tuned)
