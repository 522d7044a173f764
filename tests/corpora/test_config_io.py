"""One YAML loader and one error format (`corpora.config_io`), used by every config loader: the message names
the file, the dotted field and the value given, and the error is one type (`ConfigError`) everywhere."""
from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from corpora.config_io import ConfigError, load_yaml_model


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int = Field(8000, ge=1, le=65535)


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    server: Inner = Field(default_factory=Inner)


def test_loads_a_model_and_names_file_field_and_value(tmp_path):
    f = tmp_path / "svc.yaml"
    f.write_text("name: uart\nserver: {port: 8080}\n")
    assert load_yaml_model(f, Outer).server.port == 8080
    f.write_text("name: uart\nserver: {port: 70000, hots: x}\n")
    with pytest.raises(ConfigError) as e:
        load_yaml_model(f, Outer)
    assert str(e.value) == (f"{f}: server.port: Input should be less than or equal to 65535 (got 70000); "
                            "server.hots: Extra inputs are not permitted (got 'x')")
    f.write_text("server: {}\n")
    with pytest.raises(ConfigError, match=r"svc.yaml: name: Field required$"):  # no value shown for a missing one
        load_yaml_model(f, Outer)


@pytest.mark.parametrize("content,message", [
    (b"name: [unclosed\n", "invalid YAML"),
    (b"- a\n- b\n", "top level must be a mapping .*not a list"),
    ("name: d\xe9faut\n".encode("latin-1"), r"not UTF-8 text \(byte 7"),
])
def test_unreadable_files_name_the_file(tmp_path, content, message):
    f = tmp_path / "svc.yaml"
    f.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"svc.yaml: {message}"):
        load_yaml_model(f, Outer)
    with pytest.raises(ConfigError, match="recipe not found: .*nope.yaml"):
        load_yaml_model(tmp_path / "nope.yaml", Outer, what="recipe")


def test_every_config_loader_speaks_the_same_format(tmp_path):
    """Settings, index configs, recipes and ACL manifests: one error type, the same `file: field: msg (got v)`."""
    from adapters.config import RecipeError, load_recipe
    from assistant.config import load_settings
    from corpora.acl import AclManifest
    from retriever.config import IndexConfig, IndexConfigError

    settings = tmp_path / "settings.yaml"
    settings.write_text("llm: {timeout_s: -1}\n")
    with pytest.raises(ConfigError, match=r"settings.yaml: llm.timeout_s: Input should be greater than 0 \(got -1\)"):
        load_settings(settings)
    index = tmp_path / "idx.yaml"
    index.write_text("faiss: hnws\n")
    with pytest.raises(IndexConfigError, match=r"idx.yaml: faiss: Input should be 'flat', 'hnsw' or 'ivfpq' \(got 'hnws'\)"):
        IndexConfig.from_yaml(index)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: t\noutput_dir: {tmp_path}\nmodel: {{tiny: {{num_layers: 0}}}}\n")
    with pytest.raises(RecipeError, match=r"r.yaml: model.tiny.num_layers: .*greater than or equal to 1 \(got 0\)"):
        load_recipe(recipe)
    (tmp_path / "chipassist-acl.yaml").write_text("rules:\n  - {glob: 'a/**', groups: []}\n")
    with pytest.raises(ConfigError, match=r"chipassist-acl.yaml: rules.0.groups: List should have at least 1 item"):
        AclManifest.load(tmp_path)
    assert issubclass(IndexConfigError, ConfigError) and issubclass(RecipeError, ConfigError)
