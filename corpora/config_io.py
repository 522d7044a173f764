"""One way to read a YAML config into a pydantic model, and one error format for every config in ChipAssist.

    settings = load_yaml_model("chipassist.yaml", Settings)     # ConfigError on any problem

Every loader (assistant settings, index configs, adaptation recipes, ACL manifests) reads its file with
`read_yaml_mapping` and validates with `validate_model`, so a problem always reads the same way:

    chipassist.yaml: llm.timeout_s: Input should be greater than 0 (got -1)

the file, the dotted path of the field, what is wrong and the value that was given. Each package keeps its own
error class (``assistant.config.ConfigError``, ``retriever.config.IndexConfigError``,
``adapters.config.RecipeError``) as a subclass of `ConfigError`, so callers may catch either. It lives in
corpora/, the bottom layer, because every other package loads configs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
MAX_VALUE_CHARS = 60  # a whole section pasted back into the message would hide the field that is wrong


class ConfigError(ValueError):
    """A config file or value is invalid; the message names the file, the dotted field and the bad value."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 3] + "..."


def format_validation_error(e: ValidationError, prefix: str = "", *, show_input: bool = True) -> str:
    """Every problem in ``e`` as ``dotted.field: message (got value)``, joined by "; ".

    ``prefix`` is put before each field path (e.g. ``chunking`` for a nested section validated on its own);
    a model-level check (no field) shows its message alone, without pydantic's "Value error, " opening.
    ``show_input=False`` leaves the values out: a server answering remote callers never echoes their input.
    """
    problems = []
    for err in e.errors():
        path = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        msg = err["msg"].removeprefix("Value error, ")
        # The value is worth showing for a bad field, not for a missing one (its input is the whole section)
        # nor for a model-level check (the whole model).
        got = f" (got {_shown(err['input'])})" if show_input and err["loc"] and err["type"] != "missing" \
            and "input" in err else ""
        problems.append(f"{path}: {msg}{got}" if path else msg)
    return "; ".join(problems)


def read_yaml_mapping(path: str | Path, *, what: str = "config file",
                      error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The YAML mapping in ``path`` (an empty file is ``{}``); ``error`` naming the file if it is missing,
    unreadable, not UTF-8, not YAML or not a mapping. ``what`` names the file's role in the not-found message."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 text (byte {e.start}: {e.object[e.start:e.start + 1]!r}); "
                    f"save it as UTF-8") from e
    except yaml.YAMLError as e:
        raise error(f"{path}: invalid YAML: {e}") from e
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{path}: top level must be a mapping (key: value lines), not a {type(data).__name__}")
    return data


def validate_model(model: type[M], data: Any, where: str | Path, *,
                   error: type[ConfigError] = ConfigError) -> M:
    """``model.model_validate(data)``, a failure raised as ``error`` with ``where`` (the file) first."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise error(f"{where}: {format_validation_error(e)}") from e


def load_yaml_model(path: str | Path, model: type[M], *, what: str = "config file",
                    error: type[ConfigError] = ConfigError) -> M:
    """Read the YAML mapping in ``path`` and validate it as ``model``; any problem is ``error`` (a ConfigError)
    naming the file, the dotted field and the bad value."""
    return validate_model(model, read_yaml_mapping(path, what=what, error=error), path, error=error)
