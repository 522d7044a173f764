"""IndexConfig's `chunking:` and `ingest:` sections are typed models: a mistyped key fails when the config is
loaded, naming the file and the field, and never half-way through a build."""
from __future__ import annotations

import hashlib
import json

import pytest

from corpora.chunking import ChunkConfig
from corpora.ingest import IngestConfig
from retriever.config import IndexConfig, IndexConfigError


@pytest.mark.parametrize("section, field", [("chunking", "max_char"), ("ingest", "near_dupe")])
def test_a_typo_in_a_nested_section_names_the_file_and_field(tmp_path, section, field):
    f = tmp_path / "idx.yaml"
    f.write_text(f"faiss: flat\n{section}:\n  {field}: 900\n", encoding="utf-8")
    with pytest.raises(IndexConfigError) as e:
        IndexConfig.from_yaml(f)
    assert str(f) in str(e.value) and f"{section}.{field}" in str(e.value) and "Extra inputs" in str(e.value)


def test_nested_sections_are_the_real_models(tmp_path):
    f = tmp_path / "idx.yaml"
    f.write_text("chunking: {max_chars: 900, code_max_chars: 500}\ningest: {near_dup: false}\n", encoding="utf-8")
    cfg = IndexConfig.from_yaml(f)
    assert isinstance(cfg.chunking, ChunkConfig) and isinstance(cfg.ingest, IngestConfig)
    assert (cfg.chunking.max_chars, cfg.chunking.code_max_chars, cfg.ingest.near_dup) == (900, 500, False)
    assert cfg.chunk_config() is cfg.chunking and cfg.ingest_config().max_bytes == 5_000_000
    schema = IndexConfig.model_json_schema()
    assert "max_chars" in json.dumps(schema) and "near_dup_threshold" in json.dumps(schema)
    # validate_assignment: a bad section assigned later is refused too
    with pytest.raises(ValueError, match="chunking.max_chars"):
        cfg.chunking = {"max_chars": 10}
    # a stored config (the index manifest) round-trips
    assert IndexConfig.model_validate(json.loads(cfg.model_dump_json())) == cfg


def test_range_errors_inside_a_section(tmp_path):
    f = tmp_path / "idx.yaml"
    f.write_text("chunking: {max_chars: 400, overlap_chars: 300}\n", encoding="utf-8")
    with pytest.raises(IndexConfigError, match="overlap_chars must be less than half"):
        IndexConfig.from_yaml(f)


def test_content_key_of_default_chunking_is_unchanged():
    """Indexes built when `chunking` was an untyped dict ({} by default) keep their key: no re-embedding."""
    old = hashlib.sha256(json.dumps({"chunking": {}, "max_seq_length": None, "window_chars": 300},
                                    sort_keys=True).encode()).hexdigest()[:16]
    assert IndexConfig().content_key() == old
    assert IndexConfig(chunking={"max_chars": 900}).content_key() != old
