"""Fixtures for the bug tests: a small constructed export, a long thread full of paths, and a scripted LLM.

The scripted LLM is the one honest stand-in here: what a model writes is the input under test, and the
stand-in records every prompt so the tests can check the prompts themselves (size, structure, aliases).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.config import Settings

LOG = "/proj/pico/regress/2024-03-02/dma_burst_4k/sim_output/run_0042/dma_burst.log"
WAVES = "/proj/pico/regress/2024-03-02/dma_burst_4k/waves/run_0042/dump.fsdb"
CI_URL = "https://ci.pico.example.com/jobs/regress-nightly/builds/1873/artifacts/summary.html"


def _bug(id, title, component, assignee, status, created, description="", comments=(), **kw):
    return {"id": id, "title": title, "component": component, "assignee": assignee, "status": status,
            "created": created, "updated": kw.pop("updated", created), "reporter": kw.pop("reporter", "qa-bot"),
            "description": description or f"{title}. Seen in the nightly regression.",
            "comments": [{"author": a, "date": d, "text": t} for a, d, t in comments], **kw}


def history_bugs() -> list[dict]:
    """Resolved history: alice owns DMA, bob owns UART, carol owns the CRU (with one stray UART fix)."""
    return [
        _bug("PICO-1", "DMA descriptor fetch returns stale data after soft reset", "dma", "alice", "resolved", "2024-01-05"),
        _bug("PICO-2", "DMA channel 2 stalls when burst crosses a 4 KiB boundary", "dma", "alice", "resolved", "2024-01-20"),
        _bug("PICO-3", "DMA done interrupt fires twice for chained descriptors", "dma", "alice", "closed", "2024-02-02"),
        _bug("PICO-4", "DMA error status not cleared by writing ERR_CLR", "dma", "dan", "resolved", "2024-02-10"),
        _bug("PICO-5", "UART drops the stop bit at 921600 baud", "uart", "bob", "resolved", "2024-01-08"),
        _bug("PICO-6", "UART RX FIFO overflow flag never asserts", "uart", "bob", "resolved", "2024-01-25"),
        _bug("PICO-7", "UART parity error counter wraps at 15", "uart", "carol", "resolved", "2024-02-12"),
        _bug("PICO-8", "CRU reset synchronizer releases core reset one cycle early", "cru", "carol", "resolved", "2024-01-11"),
        _bug("PICO-9", "CRU clock gate glitches when the divider changes", "cru", "carol", "fixed", "2024-02-15"),
        _bug("PICO-10", "UART baud divisor of 0 locks the transmitter", "uart", "erin", "open", "2024-03-01"),
    ]


def long_thread_bug(n_comments: int = 40) -> dict:
    comments = [("alice", "2024-03-02", f"Reproduced on seed 42, log at {LOG} and waves at {WAVES}."),
                ("bob", "2024-03-03", "Status changed to in_progress. Looking at `dma_ctrl` and rtl/dma/dma_burst_split.v"),
                ]
    for i in range(n_comments):
        comments.append(("alice" if i % 2 else "frank", f"2024-03-{4 + i // 4:02d}",
                         f"Update {i}: the burst splitter in module dma_burst_split miscounts beats when the "
                         f"descriptor length is not a multiple of 16; nightly report {CI_URL} still shows "
                         f"failures in run {1800 + i}. Next step: add an assertion and rerun."))
    comments.append(("alice", "2024-03-20", "Fix merged in rtl/dma/dma_burst_split.v; status: resolved."))
    return _bug("PICO-42", "DMA burst splitter corrupts the last beat across 4 KiB pages", "dma", "alice",
                "resolved", "2024-03-01", description=f"Nightly test dma_burst_4k fails; see {LOG}.",
                comments=comments, reporter="frank", severity="critical", updated="2024-03-20")


@pytest.fixture()
def bugs_file(tmp_path) -> Path:
    path = tmp_path / "bugs.jsonl"
    rows = history_bugs() + [long_thread_bug()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def bot(tmp_path):
    """What summarize_bug needs from the service: settings (for bugs_db) and an LLM (None = backend none)."""
    return SimpleNamespace(settings=Settings(data_dir=tmp_path / "data"), llm=None)


class ScriptedLLM:
    """Speaks the LLM protocol with a small context; counts tokens as words and punctuation marks.

    Answers are scripted from the prompt: map/reduce prompts get notes that keep the first alias they
    see; final prompts get a summary quoting an alias, so the tests can check the aliases are restored.
    """

    name, model = "scripted", "scripted-512"

    def __init__(self, context_tokens: int = 512) -> None:
        self.context_tokens = context_tokens
        self.calls: list[tuple[list[dict], int]] = []

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def complete(self, messages, *, max_tokens=None, temperature=None, stop=None, seed=None) -> str:
        self.calls.append((messages, max_tokens))
        prompt = messages[-1]["content"]
        alias = (re.findall(r"<P\d+>", prompt) or ["(no path)"])[0]
        if prompt.startswith("Write a technical"):
            return f"Symptom: the last beat is corrupted. Affected files: {alias}. Fix status: merged."
        if prompt.startswith("Write a managerial"):
            return f"Impact: DMA transfers corrupt data. Status: resolved. Evidence: {alias}."
        # notes as long as allowed, echoing the chunk's own words (aliases included), like a verbose model
        words = re.findall(r"\S+", prompt.split("\n\n", 1)[-1])
        return "notes: " + " ".join(words[: max(8, (max_tokens or 64) // 2)])

    def stream(self, messages, **kw):
        yield self.complete(messages, **kw)

    def prompt_tokens(self, messages) -> int:
        return sum(self.count_tokens(m["content"]) for m in messages)
