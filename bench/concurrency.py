"""Concurrency of the served chat app: N users asking at once against a real `chipassist ui` server.

    python bench/concurrency.py                      # 20 users for 30 s, `none` backend, sample index
    python bench/concurrency.py --users 20 --duration 60 --index .chipassist/index

Starts `chipassist ui` (subprocess, private data dir, password users, backend `none`) and drives it over the
same HTTP + Socket.IO protocol as the browser page (`ui.client.ChatUser`: log in, open a chat, send a
question, wait for the whole reply). Phases, all in this run:
  warm-up   one question (loads the embedding model; not counted)
  baseline  1 user asking back to back for --baseline seconds
  load      --users users, each in its own chat, asking back to back for --duration seconds
A request counts as an error when it times out, the connection drops, or the reply is an error message;
the server log is checked for tracebacks. Prints a table with the ratios load/baseline and writes
bench/out/concurrency.json. Exits 1 if any request failed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ui.client import ChatUser, Turn, UIServer  # noqa: E402

SAMPLE = ROOT / "corpora" / "sample"
PASSWORD = "bench"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def load_questions() -> list[str]:
    rows = [json.loads(line) for line in (SAMPLE / "eval" / "queries.jsonl").read_text().splitlines() if line.strip()]
    return [r["query"] for r in rows]


def ensure_index(index: Path | None, out: Path) -> Path:
    if index is not None:
        if not index.is_dir():
            sys.exit(f"no index at {index}")
        return index
    index = out / "concurrency_index"
    if not (index / "CURRENT").is_file():
        print(f"building the sample index at {index} …", flush=True)
        subprocess.run([str(Path(sys.executable).parent / "chipassist"), "index", str(SAMPLE), "--index", str(index)],
                       check=True, stdout=subprocess.DEVNULL)
    return index


def write_settings(data_dir: Path, users: int) -> Path:
    lines = [f"data_dir: {data_dir}", "llm: {backend: none}", "ui:", "  auth: password", "  users:"]
    for i in range(users):  # half the users see the restricted documents, as in a real team
        groups = "[silicon-team]" if i % 2 == 0 else "[]"
        lines.append(f"    user{i:02d}: {{password: {PASSWORD}, groups: {groups}}}")
    path = data_dir / "settings.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def user_loop(url: str, name: str, questions: list[str], offset: int, until: float,
                    timeout: float) -> tuple[float, list[Turn], str | None]:
    """One user: log in, open a chat, ask back to back until ``until``; returns (connect s, turns, error)."""
    t0 = time.perf_counter()
    turns: list[Turn] = []
    try:
        async with ChatUser(url, name, PASSWORD) as user:
            connect_s = time.perf_counter() - t0
            i = offset
            while time.perf_counter() < until:
                turns.append(await user.send(questions[i % len(questions)], timeout=timeout))
                i += 1
        return connect_s, turns, None
    except Exception as e:  # login or connect failed: an error of the run
        return time.perf_counter() - t0, turns, f"{name}: {type(e).__name__}: {e}"


async def phase(url: str, users: int, seconds: float, questions: list[str], timeout: float) -> dict:
    start = time.perf_counter()
    until = start + seconds
    results = await asyncio.gather(*(user_loop(url, f"user{i:02d}", questions, i * 3, until, timeout)
                                     for i in range(users)))
    wall = time.perf_counter() - start
    turns = [t for _, ts, _ in results for t in ts]
    failures = [e for _, _, e in results if e] + [f"{t.sent[:40]!r}: {t.error or t.text[:120]}" for t in turns
                                                  if not t.ok]
    lat = [t.latency_s * 1000 for t in turns if t.ok]
    first = [t.first_s * 1000 for t in turns if t.ok and t.first_s is not None]
    return {
        "users": users, "seconds": round(wall, 2), "requests": len(turns), "errors": len(failures),
        "failures": failures[:20], "throughput_rps": round(len(turns) / wall, 2) if wall else 0.0,
        "p50_ms": round(pct(lat, 50), 1), "p95_ms": round(pct(lat, 95), 1), "max_ms": round(max(lat), 1) if lat else None,
        "mean_ms": round(statistics.fmean(lat), 1) if lat else None,
        "first_piece_p50_ms": round(pct(first, 50), 1), "first_piece_p95_ms": round(pct(first, 95), 1),
        "connect_p50_ms": round(pct([c * 1000 for c, _, _ in results], 50), 1),
        "connect_max_ms": round(max(c * 1000 for c, _, _ in results), 1),
    }


def print_table(base: dict, load: dict) -> None:
    cols = ["users", "requests", "errors", "throughput_rps", "p50_ms", "p95_ms", "max_ms", "first_piece_p50_ms",
            "connect_p50_ms"]
    head = f"{'phase':<10}" + "".join(f"{c:>20}" for c in cols)
    print(head)
    print("-" * len(head))
    for name, row in (("baseline", base), ("load", load)):
        print(f"{name:<10}" + "".join(f"{str(row[c]):>20}" for c in cols))
    ratio = {c: (load[c] / base[c] if base.get(c) and load.get(c) is not None else float("nan"))
             for c in ("throughput_rps", "p50_ms", "p95_ms", "max_ms", "first_piece_p50_ms", "connect_p50_ms")}
    print(f"{'load/base':<10}" + "".join(f"{(f'{ratio[c]:.2f}x' if c in ratio else ''):>20}" for c in cols))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load (each user asks back to back)")
    ap.add_argument("--baseline", type=float, default=10.0, help="seconds of the 1-user baseline")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one request may take before it is an error")
    ap.add_argument("--index", type=Path, default=None, help="index folder (default: build the sample index)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    index = ensure_index(args.index, args.out)
    questions = load_questions()
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was

    with tempfile.TemporaryDirectory(prefix="chipassist-concurrency-") as tmp:
        data_dir = Path(tmp)
        server = UIServer(index, data_dir, write_settings(data_dir, max(args.users, 1)))
        t0 = time.perf_counter()
        server.start()
        startup_s = time.perf_counter() - t0
        try:
            async def run() -> tuple[dict, dict, float]:
                w0 = time.perf_counter()
                async with ChatUser(server.url, "user00", PASSWORD) as u:
                    warm = await u.send(questions[0], timeout=args.timeout)
                if not warm.ok:
                    raise SystemExit(f"warm-up failed: {warm.error or warm.text[:300]}\n{server.log_tail()}")
                warm_s = time.perf_counter() - w0
                base = await phase(server.url, 1, args.baseline, questions, args.timeout)
                load = await phase(server.url, args.users, args.duration, questions, args.timeout)
                return base, load, warm_s

            base, load, warm_s = asyncio.run(run())
        finally:
            server.stop()
        log = server.log.read_text(errors="replace")
    tracebacks = log.count("Traceback")

    print(f"\nchipassist ui, backend none, index {index}: server up in {startup_s:.1f} s, warm-up question "
          f"{warm_s:.1f} s; {os.cpu_count()} CPUs, load average before: {load_before:.1f}, "
          f"after: {os.getloadavg()[0]:.1f}\n")
    print_table(base, load)
    failures = base["failures"] + load["failures"]
    for f in failures[:10]:
        print("  failed:", f)
    print(f"\nserver log tracebacks: {tracebacks}")
    result = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), "index": str(index),
              "backend": "none", "startup_s": round(startup_s, 2), "warmup_s": round(warm_s, 2),
              "cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
              "platform": platform.platform(), "baseline": base, "load": load,
              "server_tracebacks": tracebacks, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    (args.out / "concurrency.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out / 'concurrency.json'}")
    return 1 if failures or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
