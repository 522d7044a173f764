"""Load on the REST API: N clients at once against a real `chipassist serve` on 127.0.0.1 (loopback only).

    python bench/api_load.py                               # 20 clients, 20 s per endpoint, `none` backend
    python bench/api_load.py --clients 20 --duration 10 --baseline 5 --index .chipassist/index

Starts `chipassist serve` (subprocess, private data dir and tokens file, backend `none`, rate limit far above
the load) and waits for /readyz. Then for each endpoint (POST /api/search, POST /api/ask): a 1-client baseline
for --baseline seconds, then --clients clients (one token each, half of them in the restricted group, as in
bench/concurrency.py) asking the sample eval questions back to back for --duration seconds. A request is an
error unless it returns 200 with sources; the server log is checked for tracebacks. Prints requests/s and
p50/p95 per phase and the machine's load average (the clients share its CPUs with the server), and writes
bench/out/api_load.json. Exits 1 on any error. Compare with the Chainlit numbers in bench/README.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.concurrency import ensure_index, load_questions, pct  # noqa: E402

HOST = "127.0.0.1"  # loopback only: this bench never listens on or sends to anything else
ENDPOINTS = {"search": lambda q: {"query": q}, "ask": lambda q: {"question": q}}
ANSWERED = {"search": "hits", "ask": "sources"}  # the result field that must be non-empty for a success


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(index: Path, data: Path, port: int, clients: int) -> tuple[subprocess.Popen, list[str], Path]:
    """`chipassist serve` with one token per client; returns (process, tokens, log path)."""
    from assistant.api.auth import TokenStore

    store = TokenStore(data / "api_tokens.json")
    tokens = [store.add(f"client{i:02d}", ["silicon-team"] if i % 2 == 0 else []) for i in range(clients)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHIPASSIST_DATA_DIR": str(data), "CHIPASSIST_LLM_BACKEND": "none",
           "CHIPASSIST_API_TOKENS": str(store.path)}
    log = data / "serve.log"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "chipassist"), "serve", "--index", str(index),
                             "--host", HOST, "--port", str(port), "--rate-limit", "1000000"],
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=5).status_code == 200:
                return proc, tokens, log
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"chipassist serve did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


async def client_loop(url: str, endpoint: str, token: str, questions: list[str], offset: int, until: float,
                      timeout: float) -> tuple[list[float], list[str]]:
    """One client asking back to back until ``until``; returns (latencies ms, errors)."""
    lat, errors = [], []
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout) as c:
        i = offset
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            try:
                r = await c.post(f"/api/{endpoint}", json=ENDPOINTS[endpoint](questions[i % len(questions)]))
                ok = r.status_code == 200 and bool(r.json().get(ANSWERED[endpoint]))
                (lat.append((time.perf_counter() - t0) * 1000) if ok else errors.append(f"{r.status_code} {r.text[:100]}"))
            except httpx.HTTPError as e:
                errors.append(f"{type(e).__name__}: {e}")
            i += 1
    return lat, errors


async def phase(url: str, endpoint: str, tokens: list[str], seconds: float, questions: list[str],
                timeout: float) -> dict:
    start = time.perf_counter()
    results = await asyncio.gather(*(client_loop(url, endpoint, t, questions, i * 3, start + seconds, timeout)
                                     for i, t in enumerate(tokens)))
    wall = time.perf_counter() - start
    lat = [x for r, _ in results for x in r]
    errors = [e for _, es in results for e in es]
    return {"endpoint": endpoint, "clients": len(tokens), "seconds": round(wall, 2), "requests": len(lat) + len(errors),
            "errors": len(errors), "failures": errors[:10], "rps": round((len(lat) + len(errors)) / wall, 1),
            "p50_ms": round(pct(lat, 50), 1), "p95_ms": round(pct(lat, 95), 1),
            "max_ms": round(max(lat), 1) if lat else None, "loadavg_1m": round(os.getloadavg()[0], 2)}


def print_table(rows: list[dict]) -> None:
    cols = ["endpoint", "clients", "requests", "errors", "rps", "p50_ms", "p95_ms", "max_ms", "loadavg_1m"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load per endpoint")
    ap.add_argument("--baseline", type=float, default=10.0, help="seconds of the 1-client baseline per endpoint")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one request may take before it is an error")
    ap.add_argument("--index", type=Path, default=None, help="index folder (default: build the sample index)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    if not 1 <= args.clients <= 200:
        sys.exit("--clients must be 1..200 (this bench is bounded)")
    args.out.mkdir(parents=True, exist_ok=True)
    index = ensure_index(args.index, args.out)
    questions = load_questions()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="chipassist-api-load-") as tmp:
        port = free_port()
        t0 = time.perf_counter()
        proc, tokens, log = start_server(index, Path(tmp), port, args.clients)
        startup_s = time.perf_counter() - t0
        url = f"http://{HOST}:{port}"
        try:
            async def run() -> list[dict]:
                rows = []
                for endpoint in ENDPOINTS:
                    await phase(url, endpoint, tokens[:1], 1.0, questions, args.timeout)  # warm-up, not counted
                    rows.append(await phase(url, endpoint, tokens[:1], args.baseline, questions, args.timeout))
                    rows.append(await phase(url, endpoint, tokens, args.duration, questions, args.timeout))
                return rows

            rows = asyncio.run(run())
        finally:
            if proc.poll() is not None:  # the server died under load: say so, with the end of its log
                print(f"server exited with code {proc.returncode}; last lines of its log:\n"
                      + "\n".join(log.read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
            proc.terminate()
            proc.wait(30)
        tracebacks = log.read_text(errors="replace").count("Traceback")
    print(f"\nchipassist serve, backend none, index {index}: ready in {startup_s:.1f} s; {os.cpu_count()} CPUs, "
          f"load average (1/5/15 min) before: {'/'.join(f'{x:.1f}' for x in load_before)}, after: "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())}; clients in this process on the same machine\n")
    print_table(rows)
    failures = [f for r in rows for f in r["failures"]]
    for f in failures[:10]:
        print("  failed:", f)
    print(f"\nserver log tracebacks: {tracebacks}")
    result = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), "index": str(index),
              "backend": "none", "startup_s": round(startup_s, 2), "cpus": os.cpu_count(),
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "platform": platform.platform(),
              "phases": rows, "server_tracebacks": tracebacks, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    (args.out / "api_load.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out / 'api_load.json'}")
    return 1 if failures or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
