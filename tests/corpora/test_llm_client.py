"""The shared OpenAI-compatible client (`corpora.llm_client`) over real HTTP to the test server
(`tests.support.openai_server`, scripted replies), and the one set of defaults its three users share."""
from __future__ import annotations

import pytest

from corpora.llm_client import API_KEY_ENV, NO_KEY, TIMEOUT_S, ChatClient, LLMError
from tests.support.openai_server import OpenAIServer, ScriptedLLM, free_port

MESSAGES = [{"role": "user", "content": "How is the UART baud rate set?"}]


@pytest.fixture(scope="module")
def keyed_server():
    """A scripted server that, like `vllm serve --api-key`, wants a key."""
    llm = ScriptedLLM(lambda messages: f"echo: {messages[-1]['content']}")
    with OpenAIServer(llm, model_id="scripted-1", api_key="sk-test-key") as server:
        yield server


def test_complete_stream_and_models_over_http(keyed_server):
    client = ChatClient(keyed_server.base_url.removesuffix("/v1"), api_key="sk-test-key")  # /v1 added
    assert client.base_url == keyed_server.base_url
    assert client.first_model() == "scripted-1"
    assert client.complete("scripted-1", MESSAGES) == "echo: How is the UART baud rate set?"
    assert "".join(client.stream("scripted-1", MESSAGES, max_tokens=8)) == "echo: How is the UART baud rate set?"


def test_the_key_comes_from_the_named_environment_variable(keyed_server, monkeypatch):
    monkeypatch.setenv("TEACHER_KEY", "sk-test-key")
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    assert ChatClient(keyed_server.base_url, api_key_env="TEACHER_KEY").complete("scripted-1", MESSAGES)
    anonymous = ChatClient(keyed_server.base_url)
    assert anonymous.api_key == NO_KEY  # local servers without --api-key accept any key
    with pytest.raises(LLMError, match=rf"{keyed_server.base_url}.*HTTP 401.*check the API key \(\$OPENAI_API_KEY\)") as e:
        anonymous.complete("scripted-1", MESSAGES)
    assert e.value.kind == "auth" and e.value.status == 401


def test_errors_name_the_server_and_what_to_check(keyed_server):
    client = ChatClient(keyed_server.base_url, api_key="sk-test-key")
    with pytest.raises(LLMError, match="HTTP 404.*no-such-model.*check the model name") as e:
        list(client.stream("no-such-model", MESSAGES))
    assert e.value.kind == "not_found"
    url = f"http://127.0.0.1:{free_port()}/v1"
    down = ChatClient(url, timeout_s=5, max_retries=0)
    with pytest.raises(LLMError, match=rf"server at {url} is unreachable.*is the server running") as e:
        down.complete("m", MESSAGES)
    assert e.value.kind == "unreachable"
    with pytest.raises(LLMError, match="unreachable"):
        down.models(timeout_s=2, retries=0)


def test_assistant_gen_data_and_gen_pairs_share_the_defaults():
    """One timeout and one key variable for every OpenAI-compatible caller (they used to differ)."""
    from adapters.config import TeacherSection
    from assistant.config import LLMConfig
    from assistant.llm.errors import LLMError as BackendError
    from retriever.finetune.config import PairsConfig

    teacher = TeacherSection(base_url="http://h:8000/v1", model="m")
    pairs = PairsConfig(backend="openai", base_url="http://h:8000/v1")
    assert LLMConfig().timeout_s == teacher.timeout_s == pairs.timeout_s == TIMEOUT_S
    assert teacher.api_key_env == pairs.api_key_env == API_KEY_ENV
    assert BackendError is LLMError  # the assistant's fallback catches what the shared client raises
