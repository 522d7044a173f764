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
