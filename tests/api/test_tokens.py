"""API tokens: `chipassist api token add` prints a token once and stores only its hash; the store verifies,
reloads and removes; the token bucket refills at its rate."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess

from assistant.api.auth import TokenBucket, TokenStore
from tests.api.conftest import chipassist


def test_token_add_prints_once_and_stores_only_the_hash(tmp_path):
    path = tmp_path / "tokens.json"
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "CHIPASSIST_API_TOKENS": str(path)}
    out = subprocess.run([chipassist(), "api", "token", "add", "carol", "--groups", "silicon-team, dv"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.startswith("ca_") and len(token) > 40
    raw = path.read_text()
    assert token not in raw and hashlib.sha256(token.encode()).hexdigest() in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = json.loads(raw)["tokens"][0]
    assert entry["user"] == "carol" and entry["groups"] == ["dv", "silicon-team"]
    listed = subprocess.run([chipassist(), "api", "token", "list"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert "carol" in listed.stdout and entry["sha256"] not in listed.stdout and token not in listed.stdout


def test_store_verifies_reloads_and_removes(tmp_path):
    server, admin = TokenStore(tmp_path / "t.json"), TokenStore(tmp_path / "t.json")
    assert server.verify("anything") is None  # no file yet: nobody
    token = admin.add("dave", ["hw"])
    who = server.verify(token)  # added while the "server" ran: picked up without a restart
    assert who.user == "dave" and who.acl_groups == {"hw"} and who.token_id
    assert server.verify(token + "x") is None and server.verify("") is None and server.verify("a" * 10_000) is None
    assert admin.remove("dave") == 1
    assert server.verify(token) is None


def test_token_bucket_bursts_then_refills_at_its_rate():
    bucket = TokenBucket(per_minute=60, burst=2)
    assert bucket.take("k", now=0) == 0 and bucket.take("k", now=0) == 0
    assert abs(bucket.take("k", now=0) - 1.0) < 1e-9  # one a second
    assert bucket.take("other", now=0) == 0  # per key
    assert bucket.take("k", now=1.0) == 0
