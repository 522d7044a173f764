"""Typed settings for the whole assistant, loaded from YAML and CHIPASSIST_* environment variables.

Precedence: explicit arguments > environment > YAML file (``--config`` or $CHIPASSIST_CONFIG) > defaults.
Unknown keys and impossible values are rejected on load, naming the field.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# ConfigError is the one config error of every package (corpora.config_io): re-exported for the CLI
from corpora.config_io import ConfigError, read_yaml_mapping, validate_model
from corpora.llm_client import TIMEOUT_S

__all__ = ["APIConfig", "ConfigError", "LLMConfig", "Settings", "load_settings", "secret_values", "server_env"]

DEFAULT_INDEX = Path(".chipassist/index")
DEFAULT_GGUF_MODEL = "qwen2.5-coder-1.5b"  # the embedded model `make demo` installs (assistant.llm.models)


class Strict(BaseModel):
    """A settings section: unknown keys are errors, and so are bad values assigned later."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LLMConfig(Strict):
    """``llm:``: the answering backend (none, openai, local, llamacpp), its model, limits and timeout."""

    backend: Literal["none", "openai", "local", "llamacpp"] = "none"
    # openai: any OpenAI-compatible server (vLLM, llama.cpp server, ...). Env: OPENAI_BASE_URL, OPENAI_API_KEY.
    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    # local: a transformers model folder, optionally with a PEFT adapter folder.
    # llamacpp: a GGUF file, or the name of an embedded model (`chipassist model list`; default qwen2.5-coder-1.5b).
    model_path: Path | None = None
    adapter_path: Path | None = None
    device: str = "cpu"
    max_new_tokens: int = Field(512, ge=1, le=32768)
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    context_tokens: int = Field(4096, ge=256)
    # The prompt's token budget (system prompt, sources, history, question): what decides time to first token
    # on a CPU (~50 prompt tokens/s for the 1.5B model in llama.cpp on 2 idle cores; llamacpp's default is
    # 600). None: the backend's default, else as much as the context allows.
    prompt_tokens: int | None = Field(None, ge=128)
    timeout_s: float = Field(TIMEOUT_S, gt=0)  # per request; the shared default of corpora.llm_client
    threads: int = Field(0, ge=0, le=512)  # llamacpp: CPU threads (0: one per core)
    # llamacpp: evaluate the constant system prompts (Q&A, Tcl) once at load, in the background, and keep
    # their state, so each question pays only for its sources and question (~3 s less on 2 cores).
    warm: bool = True

    @model_validator(mode="before")
    @classmethod
    def _default_gguf(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("backend") == "llamacpp" and not data.get("model_path"):
            data = {**data, "model_path": DEFAULT_GGUF_MODEL}
        return data

    @model_validator(mode="after")
    def _check_backend(self) -> "LLMConfig":
        if self.backend == "local" and self.model_path is None:
            raise ValueError("llm.model_path is required when llm.backend is 'local'")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("llm.base_url (or $OPENAI_BASE_URL) is required when llm.backend is 'openai'")
        return self


class RetrievalConfig(Strict):
    """``retrieval:``: how many sources (k), the search mode and the cross-encoder reranker."""

    k: int = Field(5, ge=1, le=100)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    rerank: bool = False
    reranker_path: Path | None = None


class TclConfig(Strict):
    """``tcl:``: ``library``, the site's own checked scripts, shown to the model as worked examples beside the
    shipped cookbook: task files (JSONL: task, design, top, reference; `assistant.tcl.tasks`) or cookbook YAML
    files (`assistant.tcl.cookbook`; `assistant.tcl.library`). Every user may be shown them (as a script's
    sources), like the cookbook, whatever their groups: a library holds only scripts that every user of the
    service may read, never ones copied from ACL-restricted documents. Known secrets are scrubbed from them."""

    library: list[Path] = Field(default_factory=list)

    @field_validator("library", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        # $CHIPASSIST_TCL_LIBRARY: files separated like $PATH
        return [p for p in value.split(os.pathsep) if p] if isinstance(value, str) else value

    @field_validator("library")
    @classmethod
    def _files_exist(cls, paths: list[Path]) -> list[Path]:
        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            raise ValueError(f"no such file: {', '.join(missing)}")
        return paths


class UserConfig(Strict):
    """A chat page user (``ui.users``): a login password and the ACL groups whose documents they may read."""

    password: SecretStr | None = None  # UI password login
    groups: list[str] = Field(default_factory=list)


class UIConfig(Strict):
    """``ui:``: the Chainlit page's host, port, login (password, trusted proxy header, none) and users."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    auth: Literal["password", "header", "none"] = "password"
    trusted_header: str = "X-Forwarded-User"  # used when auth == "header" (behind a proxy)
    users: dict[str, UserConfig] = Field(default_factory=lambda: {"engineer": UserConfig(password=SecretStr("chipassist"))})


class SlackConfig(Strict):
    """``slack:``: the bot's tokens, mode (http, socket), listener, limits, users' groups and source links."""

    bot_token: SecretStr | None = None  # env SLACK_BOT_TOKEN
    signing_secret: SecretStr | None = None  # env SLACK_SIGNING_SECRET
    app_token: SecretStr | None = None  # env SLACK_APP_TOKEN (Socket Mode)
    mode: Literal["http", "socket"] = "http"
    # HTTP mode listens on loopback unless told otherwise: Slack should reach it through a TLS proxy
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    # Slack's own payloads are a few KB; a cap stops one request from filling the bot's memory
    max_body_bytes: int = Field(1 << 20, ge=1024, le=64 << 20)
    api_base_url: str | None = None  # tests point the WebClient at a local recorder
    rate_limit_per_minute: int = Field(10, ge=1)
    users: dict[str, list[str]] = Field(default_factory=dict)  # Slack user id -> ACL groups
    allow_unknown_users: bool = True  # unknown users get public-only access
    # Citations link here when set, e.g. "https://git.example.com/soc/blob/main/{path}#L{start}-L{end}"
    source_url: str | None = None

    @model_validator(mode="after")
    def _check_source_url(self) -> "SlackConfig":
        if self.source_url is not None:
            if not self.source_url.startswith(("https://", "http://")):
                raise ValueError("slack.source_url must start with https:// or http://")
            try:
                self.source_url.format(path="p", start=1, end=2)
            except (KeyError, IndexError, ValueError) as e:
                raise ValueError(f"slack.source_url may only use {{path}}, {{start}} and {{end}} ({e!r})") from e
        return self


class APIConfig(Strict):
    """`chipassist serve` and `chipassist mcp`; each value is overridden by the command's option of that name."""

    tokens_file: Path | None = None  # API tokens (hashed); default <data_dir>/api_tokens.json
    host: str = "127.0.0.1"  # anything else: put a TLS proxy in front (tokens travel in a header)
    port: int = Field(8080, ge=1, le=65535)  # serve, and mcp --transport http
    rate_limit: float = Field(120, gt=0, le=1_000_000)  # requests a minute per token (average)
    burst: int | None = Field(None, ge=1)  # requests a token may send at once (default: 10 s worth)
    mcp_user: str | None = None  # mcp over stdio runs as this user's groups (none: public documents only)
    # `chipassist serve` also serves, in its process and over its one Assistant (index and model):
    mcp: bool = False  # MCP (streamable HTTP) at /mcp
    ui: bool = False  # the Chainlit chat page at /chat (its login and users: the ui: section)
    slack: bool = False  # the Slack bot at POST /slack/events (its tokens and users: the slack: section)


class Settings(Strict):
    """Every setting, by section (YAML keys; unknown keys are errors naming the field):

    - ``index_dir``, ``data_dir``: the index, and where feedback, bugs, chat history and API tokens live.
    - ``llm``: the answering backend (none, openai, local, llamacpp) and its model, limits and timeout.
    - ``retrieval``: k, mode (hybrid, dense, bm25), rerank and the reranker.
    - ``ui``: the Chainlit page's host, port, login (password, trusted header, none) and users with groups.
    - ``slack``: the bot's tokens, mode (http, socket), limits, users' groups and source links.
    - ``tcl``: ``library``, the site's checked scripts the Tcl generator shows as worked examples.
    - ``api``: the REST/OpenAI API (`chipassist serve`) and the MCP server (`chipassist mcp`):
      ``tokens_file`` (default ``<data_dir>/api_tokens.json``, or $CHIPASSIST_API_TOKENS), ``host`` and
      ``port`` (127.0.0.1:8080), ``rate_limit`` (requests a minute per token, 120) and ``burst`` (default
      10 s worth), ``mcp_user`` (the user whose groups `chipassist mcp` over stdio gets; none: public only).
      ``mcp``, ``ui``, ``slack``: `chipassist serve` also serves MCP at /mcp, the chat page at /chat and the
      Slack bot at POST /slack/events in its process, sharing one index and model (default off each).
      The commands' options (--tokens, --host, --port, --rate-limit, --burst, --user, --mcp, --ui,
      --slack) override them.
    """

    index_dir: Path = DEFAULT_INDEX
    data_dir: Path = Path(".chipassist")  # feedback.sqlite, bugs.sqlite, chat history
    llm: LLMConfig = Field(default_factory=LLMConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    ui: UIConfig = Field(default_factory=UIConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    api: APIConfig = Field(default_factory=APIConfig)
    tcl: TclConfig = Field(default_factory=TclConfig)

    @property
    def feedback_db(self) -> Path:
        """The answers and their ratings (UI, Slack, API): ``<data_dir>/feedback.sqlite``."""
        return self.data_dir / "feedback.sqlite"

    @property
    def bugs_db(self) -> Path:
        """The imported bug reports: ``<data_dir>/bugs.sqlite``."""
        return self.data_dir / "bugs.sqlite"


_ENV = {
    "CHIPASSIST_INDEX": ("index_dir",),
    "CHIPASSIST_DATA_DIR": ("data_dir",),
    "CHIPASSIST_LLM_BACKEND": ("llm", "backend"),
    "OPENAI_BASE_URL": ("llm", "base_url"),
    "OPENAI_API_KEY": ("llm", "api_key"),
    "CHIPASSIST_LLM_MODEL": ("llm", "model"),
    "CHIPASSIST_LLM_MODEL_PATH": ("llm", "model_path"),
    "CHIPASSIST_LLM_ADAPTER_PATH": ("llm", "adapter_path"),
    "SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "SLACK_SIGNING_SECRET": ("slack", "signing_secret"),
    "SLACK_APP_TOKEN": ("slack", "app_token"),
    "CHIPASSIST_API_TOKENS": ("api", "tokens_file"),
    "CHIPASSIST_TCL_LIBRARY": ("tcl", "library"),
}


def _set(d: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        d = d.setdefault(key, {})
    d[path[-1]] = value


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from YAML (``config`` or $CHIPASSIST_CONFIG), the environment, then ``overrides``.

    ``overrides`` use dotted names with '__' or nested dicts, e.g. ``index_dir=..., llm={"backend": "openai"}``.
    Raises ConfigError naming the file and field on any invalid value.
    """
    path = Path(config) if config else (Path(os.environ["CHIPASSIST_CONFIG"]) if os.environ.get("CHIPASSIST_CONFIG") else None)
    data: dict[str, Any] = read_yaml_mapping(path, what="config file") if path is not None else {}
    for env, dotted in _ENV.items():
        if os.environ.get(env):
            _set(data, dotted, os.environ[env])
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict):
            for k2, v2 in value.items():
                if v2 is not None:
                    _set(data, (key, k2), v2)
        else:
            _set(data, tuple(key.split("__")), value)
    # An OpenAI base URL in the environment alone should not switch the backend on; an explicit backend does.
    return validate_model(Settings, data, path or "settings")


# Environment variables whose values are secrets whatever their name's prefix (SLACK_BOT_TOKEN, OPENAI_API_KEY,
# AWS_SECRET_ACCESS_KEY, DB_PASSWORD, ...).
_SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSW(OR)?D|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I)


def _redactable(value: str, min_len: int) -> bool:
    # a lower-case word (the demo password "chipassist") would redact every mention of that word: keys and
    # tokens are longer mixes of letters, digits and signs
    return len(value) >= min_len and not (value.isalpha() and value.islower())


def secret_values(settings: BaseModel | None = None, min_len: int = 8) -> list[str]:
    """Values that must never reach a user or a tool's output: every SecretStr of ``settings`` (API key,
    Slack tokens, UI passwords) and the values of secret-looking environment variables (values shorter
    than ``min_len`` or made of lower-case letters only are left out: redacting them would mangle text)."""
    found: set[str] = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and _redactable(v, min_len)}
    pending: list[Any] = [settings] if settings is not None else []
    while pending:
        item = pending.pop()
        if isinstance(item, SecretStr):
            value = item.get_secret_value()
            if _redactable(value, min_len):
                found.add(value)
        elif isinstance(item, BaseModel):
            pending.extend(getattr(item, name) for name in type(item).model_fields)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return sorted(found)


# What a ChipAssist server started from this process (the chat page) is given of its environment: the system's
# basics, proxies and certificates, and the variables ChipAssist and its libraries read (its settings, the
# OpenAI-compatible backend's URL and key). Everything else stays behind: cloud keys, a shell's exports, and the
# Slack tokens, which the chat page never uses.
SERVER_ENV_NAMES = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", "TERM", "TMPDIR", "TEMP", "TMP",
                    "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR",
                    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                    "no_proxy"}
SERVER_ENV_PREFIXES = ("LC_", "XDG_", "CHIPASSIST_", "OPENAI_", "CHAINLIT_", "HF_", "TRANSFORMERS_", "TOKENIZERS_",
                       "OMP_", "MKL_", "CUDA_")


def server_env(**extra: str) -> dict[str, str]:
    """The environment for a ChipAssist server process started from this one: the variables it needs
    (``SERVER_ENV_NAMES``, ``SERVER_ENV_PREFIXES``) and ``extra``, never the rest of the caller's."""
    keep = {k: v for k, v in os.environ.items() if k in SERVER_ENV_NAMES or k.startswith(SERVER_ENV_PREFIXES)}
    return {**keep, **extra}
