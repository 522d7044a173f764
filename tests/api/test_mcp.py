"""`chipassist mcp` with the SDK's own client, over stdio (a real subprocess) and streamable HTTP (a real
server on 127.0.0.1): tool listing, a call per tool, ACLs per token, and a bad token refused."""
from __future__ import annotations

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.api.conftest import BUG_ID, RESTRICTED_PATH, RESTRICTED_QUERY, chipassist, cli_env

TOOLS = {"search", "ask", "tcl_check", "tcl_generate", "bug_summary", "explain_log"}


async def _calls(session: ClientSession) -> dict:
    """List the tools and call each once; returns {name: structured result} plus the listing."""
    await session.initialize()
    listing = await session.list_tools()
    out = {"tools": {t.name: t for t in listing.tools}}
    for name, args in [("search", {"query": RESTRICTED_QUERY, "k": 10}),
                       ("ask", {"question": RESTRICTED_QUERY, "k": 10}),
                       ("tcl_check", {"script": "read_verilog uart.v\nsynth -top uart\n"}),
                       ("tcl_generate", {"task": "synthesize the uart module with yosys", "rounds": 0}),
                       ("bug_summary", {"bug_id": BUG_ID, "kind": "technical"}),
                       ("explain_log", {"log": f"ERROR: {RESTRICTED_QUERY}\n", "k": 5})]:
        result = await session.call_tool(name, args)
        assert not result.isError, (name, result.content)
        out[name] = result.structuredContent
    return out


def _check(out: dict, sees_restricted: bool) -> None:
    assert TOOLS <= set(out["tools"])
    assert out["tools"]["ask"].outputSchema and "sources" in out["tools"]["ask"].outputSchema["properties"]
    assert out["tools"]["search"].inputSchema["properties"]["query"]["maxLength"] == 4000
    paths = {s["path"] for s in out["ask"]["sources"]}
    assert paths  # citations: numbered sources with path and lines
    assert all(s["n"] >= 1 and s["snippet"] for s in out["ask"]["sources"])
    assert (RESTRICTED_PATH in paths) == sees_restricted, paths
    hits = {h["source"] for h in out["search"]["hits"]}
    assert all(h["rank"] >= 1 and h["start_line"] for h in out["search"]["hits"])
    assert (RESTRICTED_PATH in hits) == sees_restricted, hits
    assert "[1]" in out["ask"]["text"]
    assert out["tcl_check"]["check"]["syntax"] == [] and "run" in out["tcl_check"]["check"]
    assert out["tcl_generate"]["retrieval_only"] is True and out["tcl_generate"]["sources"]
    assert out["bug_summary"]["bug_id"] == BUG_ID and out["bug_summary"]["sections"]["digest"]
    logged = {s["path"] for s in out["explain_log"]["sources"]}
    assert out["explain_log"]["errors"] == 1 and (RESTRICTED_PATH in logged) == sees_restricted, logged


def _http(url: str, token: str):
    return streamable_http_client(f"{url}/mcp", http_client=create_mcp_http_client(
        headers={"Authorization": f"Bearer {token}"}))


async def _over_http(url: str, token: str) -> dict:
    async with _http(url, token) as (read, write, _), ClientSession(read, write) as session:
        return await _calls(session)


def test_mcp_stdio_lists_and_calls_every_tool_as_the_public_user(api_env):
    params = StdioServerParameters(command=chipassist(), args=["mcp"], env=cli_env(api_env))

    async def run():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            return await _calls(session)

    _check(anyio.run(run), sees_restricted=False)  # no --user: public documents only


def test_local_user_groups_come_from_ui_users_or_tokens(api_env):
    from assistant.api.mcp_server import local_principal

    settings, store = api_env["settings"], api_env["store"]
    assert local_principal(settings, store, None).acl_groups is None  # public only
    assert local_principal(settings, store, "alice").acl_groups == {"silicon-team"}
    assert local_principal(settings, store, "engineer").user == "engineer"  # a ui.users entry
    with pytest.raises(ValueError, match="--user: 'mallory'"):
        local_principal(settings, store, "mallory")


@pytest.mark.slow  # a second subprocess start (~20 s on the shared 2-core machine)
def test_mcp_stdio_runs_as_the_configured_user(api_env):
    params = StdioServerParameters(command=chipassist(), args=["mcp", "--user", "alice"], env=cli_env(api_env))

    async def run():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return (await session.call_tool("search", {"query": RESTRICTED_QUERY, "k": 10})).structuredContent

    assert RESTRICTED_PATH in {h["source"] for h in anyio.run(run)["hits"]}  # alice's token groups


def test_mcp_http_tools_follow_the_tokens_groups(api_env, mcp_http_server):
    _check(anyio.run(_over_http, mcp_http_server.url, api_env["alice"]), sees_restricted=True)
    _check(anyio.run(_over_http, mcp_http_server.url, api_env["bob"]), sees_restricted=False)


def test_mcp_http_refuses_a_bad_token_before_any_tool(api_env, mcp_http_server, caplog):
    bad = "ca_not-a-real-token-0123456789abcdef"
    r = httpx.post(f"{mcp_http_server.url}/mcp", headers={"Authorization": f"Bearer {bad}",
                                                          "Accept": "application/json, text/event-stream"},
                   json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 401 and bad not in r.text
    assert httpx.post(f"{mcp_http_server.url}/mcp", json={}).status_code == 401  # no token at all
    with pytest.raises(BaseException):  # the SDK's client cannot even initialize
        anyio.run(_over_http, mcp_http_server.url, bad)
    assert bad not in caplog.text


def test_mcp_is_served_by_chipassist_serve_too(api_env, rest_server):
    async def run():
        async with _http(rest_server.url, api_env["bob"]) as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            return await s.call_tool("search", {"query": RESTRICTED_QUERY, "k": 10})

    result = anyio.run(run)
    assert not result.isError and RESTRICTED_PATH not in {h["source"] for h in result.structuredContent["hits"]}


def test_mcp_tool_errors_name_the_field(api_env, mcp_http_server):
    async def run():
        async with _http(mcp_http_server.url, api_env["bob"]) as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            return (await s.call_tool("ask", {"question": "x" * 5000}),
                    await s.call_tool("bug_summary", {"bug_id": "NOPE-1"}))

    too_long, unknown = anyio.run(run)
    assert too_long.isError and "question" in too_long.content[0].text
    assert "x" * 100 not in too_long.content[0].text  # the field is named, the input never echoed
    assert unknown.isError and "NOPE-1" in unknown.content[0].text
