"""The settings' `api:` section: typed (unknown keys and bad values refused naming the field), used by
`chipassist api token`, `serve` and `mcp` as defaults, and overridden by their command-line options."""
from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner


def _config(tmp_path, body: str):
    path = tmp_path / "chipassist.yaml"
    path.write_text(body)
    return path


def test_api_section_is_typed_and_command_line_options_override_it(tmp_path, monkeypatch):
    import assistant.cli  # noqa: F401 - the CLI package first: it registers assistant.api.cli's commands
    from assistant.api.cli import api_options
    from assistant.config import ConfigError, load_settings

    monkeypatch.delenv("CHIPASSIST_API_TOKENS", raising=False)
    settings = load_settings(_config(tmp_path, "api:\n  port: 9000\n  rate_limit: 30\n  burst: 3\n"
                                               "  mcp_user: alice\n"))
    assert (settings.api.port, settings.api.rate_limit, settings.api.burst) == (9000, 30, 3)
    opts = api_options(settings, host=None, port=9100, rate_limit=None, mcp_user="bob")
    assert (opts.host, opts.port, opts.rate_limit, opts.burst, opts.mcp_user) == ("127.0.0.1", 9100, 30, 3, "bob")
    with pytest.raises(typer.Exit):
        api_options(settings, port=70_000)  # a bad option exits (naming it), not a traceback
    with pytest.raises(ConfigError, match="api.prot"):
        load_settings(_config(tmp_path, "api:\n  prot: 1\n"))
    with pytest.raises(ConfigError, match="api.rate_limit"):
        load_settings(_config(tmp_path, "api:\n  rate_limit: 0\n"))


def test_token_add_writes_the_configured_tokens_file(tmp_path, monkeypatch):
    from assistant.api.auth import TokenStore
    from assistant.cli import app

    monkeypatch.delenv("CHIPASSIST_API_TOKENS", raising=False)
    tokens = tmp_path / "secrets" / "tokens.json"
    config = _config(tmp_path, f"data_dir: {tmp_path / 'data'}\napi:\n  tokens_file: {tokens}\n")
    r = CliRunner().invoke(app, ["api", "token", "add", "erin", "--groups", "dv", "--config", str(config)])
    assert r.exit_code == 0, r.output
    assert TokenStore(tokens).verify(r.stdout.strip().splitlines()[-1]).user == "erin"
    assert not (tmp_path / "data" / "api_tokens.json").exists()


def test_server_env_passes_what_the_server_reads_and_nothing_else(monkeypatch):
    """A ChipAssist server started from the CLI or a client gets its settings, its backend's URL and key and the
    system's basics; cloud keys and the Slack tokens the chat page never uses stay behind."""
    from assistant.config import server_env
    monkeypatch.setenv("OPENAI_API_KEY", "sk-backend-key-123")
    monkeypatch.setenv("CHIPASSIST_LLM_BACKEND", "openai")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-Secret-9876")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-123-456")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_abcdef123456")
    env = server_env(CHIPASSIST_INDEX="/idx", HF_HUB_OFFLINE="1")
    assert env["OPENAI_API_KEY"] == "sk-backend-key-123" and env["CHIPASSIST_LLM_BACKEND"] == "openai"
    assert env["PATH"] and env["CHIPASSIST_INDEX"] == "/idx" and env["HF_HUB_OFFLINE"] == "1"
    assert not {"AWS_SECRET_ACCESS_KEY", "SLACK_BOT_TOKEN", "GITHUB_TOKEN"} & env.keys()
