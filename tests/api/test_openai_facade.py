"""The OpenAI-compatible facade with the real `openai` client against the real server on 127.0.0.1:
models, chat completions (plain and streamed) answering with cited text, ACLs per token, 401, 404, 429."""
from __future__ import annotations

import logging

import openai
import pytest

from tests.api.conftest import RESTRICTED_PATH, RESTRICTED_QUERY, ThreadServer


def _client(url: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=60)


def _ask(client: openai.OpenAI, question: str, **kw):
    return client.chat.completions.create(model="chipassist", messages=[
        {"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": question}], **kw)


def test_models_and_a_cited_answer(api_env, rest_server):
    client = _client(rest_server.url, api_env["bob"])
    assert [m.id for m in client.models.list()] == ["chipassist"]
    reply = _ask(client, "How is the UART baud rate set?")
    text = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop" and "[1]" in text and "docs/uart.md" in text
    assert reply.model_extra["sources"][0]["path"] in text  # the citations, also as data


def test_restricted_documents_follow_the_tokens_groups(api_env, rest_server):
    for token, sees in ((api_env["alice"], True), (api_env["bob"], False)):
        reply = _ask(_client(rest_server.url, token), RESTRICTED_QUERY)
        assert (RESTRICTED_PATH in reply.choices[0].message.content) == sees
        assert (RESTRICTED_PATH in {s["path"] for s in reply.model_extra["sources"]}) == sees


def test_streamed_answer_joins_to_cited_text(api_env, rest_server):
    client = _client(rest_server.url, api_env["bob"])
    chunks = list(_ask(client, RESTRICTED_QUERY, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop" and "[1]" in text
    assert RESTRICTED_PATH not in text
    follow_up = client.chat.completions.create(model="chipassist", messages=[
        {"role": "user", "content": "How is the UART baud rate set?"},
        {"role": "assistant", "content": "With CTRL.DIV [1]."},
        {"role": "user", "content": "and its reset value?"}])
    assert "[1]" in follow_up.choices[0].message.content


def test_bad_token_unknown_model_and_empty_question(api_env, rest_server, caplog):
    caplog.set_level(logging.INFO)
    bad = "ca_definitely-not-a-token-XYZ123456789"
    with pytest.raises(openai.AuthenticationError) as e:
        _ask(_client(rest_server.url, bad), "uart")
    assert bad not in str(e.value) and bad not in caplog.text
    with pytest.raises(openai.NotFoundError, match="model"):
        _client(rest_server.url, api_env["bob"]).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "uart"}])
    with pytest.raises(openai.BadRequestError, match="messages"):
        _ask(_client(rest_server.url, api_env["bob"]), "   ")
    with pytest.raises(openai.UnprocessableEntityError, match="messages"):
        _ask(_client(rest_server.url, api_env["bob"]), "x" * 5000)


def test_rate_limit_reaches_the_client_as_429(api_env):
    from assistant.api.rest import create_app

    with ThreadServer(create_app(api_env["bot"], api_env["store"], rate_per_minute=6, burst=1, warm=False)) as s:
        client = _client(s.url, api_env["bob"])
        _ask(client, "How is the UART baud rate set?")
        with pytest.raises(openai.RateLimitError) as e:
            _ask(client, "How is the UART baud rate set?")
        assert int(e.value.response.headers["retry-after"]) >= 1
