"""`chipassist serve`: the jobs as REST endpoints on a real server (httpx against uvicorn on 127.0.0.1),
with server-sent events, feedback, health, ACLs per token, 401, 429, 413/422, and nothing secret echoed."""
from __future__ import annotations

import json
import logging

import httpx

from tests.api.conftest import BUG_ID, RESTRICTED_PATH, RESTRICTED_QUERY, ThreadServer


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _paths(body: dict) -> set[str]:
    """The cited paths of a result: its sources (answers) or its hits (search)."""
    return {s["path"] for s in body.get("sources", [])} | {h["source"] for h in body.get("hits", [])}


def test_openapi_lists_every_job_and_health(rest_server):
    spec = httpx.get(f"{rest_server.url}/openapi.json").json()
    for path in ("/api/search", "/api/ask", "/api/ask/stream", "/api/tcl_check", "/api/tcl_generate",
                 "/api/bug_summary", "/api/feedback", "/v1/chat/completions", "/v1/models"):
        assert path in spec["paths"], path
    assert spec["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert httpx.get(f"{rest_server.url}/docs").status_code == 200
    assert httpx.get(f"{rest_server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{rest_server.url}/readyz").json() == {"ready": True}


def test_jobs_apply_the_tokens_groups(api_env, rest_server):
    url = rest_server.url
    for token, sees in ((api_env["alice"], True), (api_env["bob"], False)):
        for job, body in (("search", {"query": RESTRICTED_QUERY, "k": 10}),
                          ("ask", {"question": RESTRICTED_QUERY, "k": 10})):
            r = httpx.post(f"{url}/api/{job}", json=body, headers=_auth(token), timeout=60)
            assert r.status_code == 200, r.text
            assert (RESTRICTED_PATH in _paths(r.json())) == sees, (job, sees)
            assert (RESTRICTED_PATH in r.text) == sees  # nor anywhere else in the response
    ask = httpx.post(f"{url}/api/ask", json={"question": "How is the UART baud rate set?"},
                     headers=_auth(api_env["bob"]), timeout=60).json()
    assert ask["answer_id"] and ask["sources"] and "[1]" in ask["text"]
    check = httpx.post(f"{url}/api/tcl_check", json={"script": "synth -top uart\n"}, headers=_auth(api_env["bob"]),
                       timeout=60).json()
    assert check["check"]["syntax"] == [] and "lint" in check["check"]
    gen = httpx.post(f"{url}/api/tcl_generate", json={"task": "synthesize the uart", "rounds": 0},
                     headers=_auth(api_env["bob"]), timeout=60).json()
    assert gen["retrieval_only"] and gen["sources"] and gen["answer_id"]
    bug = httpx.post(f"{url}/api/bug_summary", json={"bug_id": BUG_ID}, headers=_auth(api_env["bob"]), timeout=60)
    assert bug.status_code == 200 and bug.json()["bug_id"] == BUG_ID
    missing = httpx.post(f"{url}/api/bug_summary", json={"bug_id": "NOPE-1"}, headers=_auth(api_env["bob"]))
    assert missing.status_code == 404 and "NOPE-1" in missing.json()["detail"]


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_ask_streams_server_sent_events_and_takes_feedback(api_env, rest_server):
    with httpx.stream("POST", f"{rest_server.url}/api/ask/stream", headers=_auth(api_env["bob"]), timeout=60,
                      json={"question": RESTRICTED_QUERY, "k": 10}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.read().decode())
    deltas = "".join(d["text"] for e, d in events if e == "delta")
    kind, answer = events[-1]
    assert kind == "answer" and answer["text"] == deltas and answer["answer_id"]
    assert RESTRICTED_PATH not in _paths(answer) and RESTRICTED_PATH not in deltas
    fb = httpx.post(f"{rest_server.url}/api/feedback", headers=_auth(api_env["bob"]),
                    json={"answer_id": answer["answer_id"], "rating": 1, "comment": "useful"})
    assert fb.status_code == 200, fb.text
    from assistant.feedback import FeedbackStore

    rows = [r for r in FeedbackStore(api_env["settings"].feedback_db).rows() if r["id"] == answer["answer_id"]]
    assert rows and rows[0]["rater"] == "bob" and rows[0]["client"] == "api" and rows[0]["rating"] == 1
    unknown = httpx.post(f"{rest_server.url}/api/feedback", headers=_auth(api_env["bob"]),
                         json={"answer_id": "0" * 32, "rating": 1})
    assert unknown.status_code == 404 and "answer_id" in unknown.json()["detail"]


def test_bad_or_missing_token_is_refused_and_never_echoed(rest_server, caplog):
    bad = "ca_ThisIsNotAValidToken0123456789"
    caplog.set_level(logging.INFO)
    r = httpx.post(f"{rest_server.url}/api/search", json={"query": "uart"}, headers=_auth(bad))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert bad not in r.text and bad not in caplog.text
    assert httpx.post(f"{rest_server.url}/api/search", json={"query": "uart"}).status_code == 401


def test_oversized_input_is_refused_naming_the_field_without_echoing_it(api_env, rest_server):
    secret = "sk-live-" + "Z" * 40  # pasted by mistake into an oversized question
    r = httpx.post(f"{rest_server.url}/api/ask", headers=_auth(api_env["bob"]),
                   json={"question": secret + " " + "x" * 5000})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "question"
    assert "4000" in r.json()["detail"] and secret not in r.text
    r = httpx.post(f"{rest_server.url}/api/tcl_check", headers={**_auth(api_env["bob"]),
                                                                "Content-Type": "application/json"},
                   content=json.dumps({"script": "puts hi\n" * 400_000}))
    assert r.status_code == 413 and "request body" in r.json()["detail"]
    r = httpx.post(f"{rest_server.url}/api/search", headers=_auth(api_env["bob"]), json={"query": "uart", "kk": 3})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kk"


def test_rate_limit_is_per_token_with_retry_after(api_env):
    from assistant.api.rest import create_app

    app = create_app(api_env["bot"], api_env["store"], rate_per_minute=6, burst=2, warm=False)
    with ThreadServer(app) as server:
        codes = [httpx.get(f"{server.url}/v1/models", headers=_auth(api_env["bob"])) for _ in range(3)]
        assert [c.status_code for c in codes] == [200, 200, 429]
        assert 1 <= int(codes[-1].headers["retry-after"]) <= 10  # 6 a minute: one every 10 s
        assert httpx.get(f"{server.url}/v1/models", headers=_auth(api_env["alice"])).status_code == 200
