"""The interfaces are built from the job registry: `explain_log` over MCP (HTTP) and REST with the token's
groups applied, a job registered in a test served as a tool and an endpoint with no API code, and
server-side (local_only) fields refused remotely, naming the field."""
from __future__ import annotations

import anyio
import httpx
import pytest
from mcp import ClientSession
from pydantic import BaseModel, Field

from tests.api.conftest import RESTRICTED_PATH, RESTRICTED_QUERY, ThreadServer
from tests.api.test_mcp import _http

LOG = f"""yosys -p synth
Running DMA test bench
ERROR: {RESTRICTED_QUERY}
Warning: Replacing memory \\mem with list of registers
ERROR: {RESTRICTED_QUERY}
"""


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _cited(result: dict) -> set[str]:
    return {s["path"] for s in result["sources"]}


def test_explain_log_over_rest_applies_the_tokens_groups(api_env, rest_server):
    for token, sees in ((api_env["alice"], True), (api_env["bob"], False)):
        r = httpx.post(f"{rest_server.url}/api/explain_log", json={"log": LOG, "k": 5}, headers=_auth(token),
                       timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["errors"] == 2 and body["issues"][0]["count"] == 2 and body["answer_id"]
        assert (RESTRICTED_PATH in _cited(body)) == sees
        assert (RESTRICTED_PATH in r.text) == sees  # nor anywhere else in the response


def test_explain_log_over_mcp_http_applies_the_tokens_groups(api_env, mcp_http_server):
    async def call(token: str):
        async with _http(mcp_http_server.url, token) as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            tools = {t.name: t for t in (await s.list_tools()).tools}
            return tools["explain_log"], await s.call_tool("explain_log", {"log": LOG, "k": 5})

    for token, sees in ((api_env["alice"], True), (api_env["bob"], False)):
        tool, result = anyio.run(call, token)
        assert not result.isError, result.content
        assert "sources" in tool.outputSchema["properties"] and "log" in tool.inputSchema["properties"]
        assert (RESTRICTED_PATH in _cited(result.structuredContent)) == sees
        assert (RESTRICTED_PATH in str(result.content)) == sees


def test_local_only_fields_are_refused_remotely_naming_the_field(api_env, rest_server):
    spec = httpx.get(f"{rest_server.url}/openapi.json").json()["components"]["schemas"]
    assert "design" not in spec["TclCheckRequest"]["properties"]  # not offered in the schema either
    for field in ("learn_from_index", "script_name"):
        assert field not in spec["TclCheckRequest"]["properties"]
    assert "run_unsafe" not in spec["TclGenerateRequest"]["properties"]
    assert "bugs_file" not in spec["BugSummaryRequest"]["properties"]
    assert "backend" not in spec["AskRequest"]["properties"]  # the server's model, not a caller's choice
    assert "timeout_s" not in spec["TclCheckRequest"]["properties"]
    for job, body, field in (("ask", {"question": "dma reset?", "backend": "local"}, "backend"),
                             ("tcl_check", {"script": "puts hi", "timeout_s": 3600}, "timeout_s"),("tcl_check", {"script": "puts hi", "design": ["/etc/passwd"]}, "design"),
                             ("tcl_generate", {"task": "synthesize", "run_unsafe": True}, "run_unsafe"),
                             ("bug_summary", {"bug_id": "PICO-101", "bugs_file": "/etc/passwd"}, "bugs_file")):
        r = httpx.post(f"{rest_server.url}/api/{job}", json=body, headers=_auth(api_env["bob"]))
        assert r.status_code == 422, (job, r.text)
        assert r.json()["errors"][0]["field"] == field and "server-side" in r.json()["detail"]
        assert "/etc/passwd" not in r.text


class EchoRequest(BaseModel):
    """Text to echo in upper case."""

    text: str = Field(description="what to echo")
    path: str | None = Field(None, description="a server path", json_schema_extra={"local_only": True})


class EchoResult(BaseModel):
    """The echoed text, and the groups the job saw."""

    text: str
    groups: list[str] = Field(default_factory=list)


@pytest.fixture()
def echo_job():
    """A job registered by the test (and removed after it): no API module knows it."""
    from assistant.jobs import Job, all_jobs, register, registered

    all_jobs()  # the built-in jobs first, as in a running server
    job = register(Job(
        name="test_echo", title="Echo", description="Echo the text in upper case.",
        request=EchoRequest, result=EchoResult,
        run=lambda bot, req, groups: EchoResult(text=req.text.upper(), groups=sorted(groups or [])),
        render_markdown=lambda r: r.text, render_blocks=lambda r, url: r.text,
        from_text=lambda text, uploads: EchoRequest(text=text), feedback=lambda r: None, max_chars=100))
    yield job
    registered().pop(job.name)


def test_a_registered_job_is_a_tool_and_an_endpoint_with_no_api_code(api_env, echo_job):
    from assistant.api.mcp_server import build_mcp
    from assistant.api.rest import create_app

    mcp = build_mcp(api_env["bot"], tokens=api_env["store"])
    app = create_app(api_env["bot"], api_env["store"], rate_per_minute=100_000, burst=10_000, mcp=mcp, warm=False)
    with ThreadServer(app) as server:
        assert "/api/test_echo" in httpx.get(f"{server.url}/openapi.json").json()["paths"]
        r = httpx.post(f"{server.url}/api/test_echo", json={"text": "hi"}, headers=_auth(api_env["alice"]))
        assert r.status_code == 200 and r.json() == {"text": "HI", "groups": ["silicon-team"], "answer_id": None}
        too_long = httpx.post(f"{server.url}/api/test_echo", json={"text": "x" * 101}, headers=_auth(api_env["bob"]))
        assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "text"
        local = httpx.post(f"{server.url}/api/test_echo", json={"text": "hi", "path": "/etc/passwd"},
                           headers=_auth(api_env["bob"]))
        assert local.status_code == 422 and local.json()["errors"][0]["field"] == "path"

        async def call():
            async with _http(server.url, api_env["bob"]) as (read, write, _), ClientSession(read, write) as s:
                await s.initialize()
                tools = {t.name: t for t in (await s.list_tools()).tools}
                return tools, await s.call_tool("test_echo", {"text": "hi"})

        tools, result = anyio.run(call)
    assert "test_echo" in tools and "path" not in tools["test_echo"].inputSchema["properties"]
    assert tools["test_echo"].inputSchema["properties"]["text"]["maxLength"] == 100
    assert not result.isError and result.structuredContent == {"text": "HI", "groups": []}
