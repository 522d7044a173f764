"""Instruction data for domain SFT, made from the corpus: with a teacher LLM (any OpenAI-compatible server) or,
without one, derived from document structure (section text, command/option tables, Tcl code blocks, bug fields).

Samples are chat conversations {"kind", "messages"} written to JSONL; duplicates (same normalised question) and
weak samples (answer too short) are dropped, and counts made/dropped per kind are reported.
Run: `chipassist adapt gen-data RECIPE` (teacher set in recipe.gendata.teacher).
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

from adapters.config import GenDataSection

_HEADING = re.compile(r"^(#{1,4})\s+(.+)$", re.M)
_CODE = re.compile(r"```(?:tcl)?\n(.+?)```", re.S)


def _qa(q: str, a: str, kind: str) -> dict:
    return {"kind": kind, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a.strip()}]}


def _table_rows(body: str) -> list[tuple[str, str]]:
    """(first cell, "header: cell; ...") for each body row of each markdown table (header row skipped)."""
    rows, header = [], None
    for line in body.splitlines():
        if not line.strip().startswith("|"):
            header = None
            continue
        cells = [c.strip(" `") for c in line.strip().strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue
        if header is None:
            header = cells
            continue
        desc = "; ".join(f"{h}: {c}" for h, c in zip(header[1:], cells[1:]) if c)
        if cells[0] and desc:
            rows.append((cells[0], desc))
    return rows


def from_markdown(text: str) -> list[dict]:
    """QA from sections, option/register rows from tables, Tcl tasks from code blocks after a sentence."""
    out = []
    parts = _HEADING.split(text)
    # split yields [pre, level, title, body, level, title, body, ...]
    for i in range(1, len(parts) - 2, 3):
        title, body = parts[i + 1].strip(), parts[i + 2]
        para = next((p.strip() for p in body.split("\n\n") if p.strip() and not p.strip().startswith(("|", "```"))),
                    "")
        if para:
            out.append(_qa(f"What is {title}?", para, "qa"))
        for name, desc in _table_rows(body):
            out.append(_qa(f"In {title}, what does {name} do?", desc, "options"))
        for m in _CODE.finditer(body):
            before = body[: m.start()].strip().split("\n\n")[-1].strip()
            if before and not before.startswith(("|", "#")):
                out.append(_qa(f"Write a Tcl snippet for this task: {before}", m.group(1), "tcl"))
    return out


def from_bug(rec: dict) -> list[dict]:
    """A bug record -> summary sample (description -> title + status) and a triage question."""
    desc = rec.get("description") or rec.get("body") or ""
    title = rec.get("title") or ""
    if not desc or not title:
        return []
    out = [_qa(f"Summarize this bug report in one line:\n{desc}", title, "bugs")]
    if rec.get("component"):
        out.append(_qa(f"Which component does this bug belong to?\n{title}\n{desc}", str(rec["component"]), "bugs"))
    return out


def from_structure(roots: list[Path]) -> list[dict]:
    samples = []
    for root in roots:
        for f in sorted(Path(root).rglob("*")):
            if f.suffix == ".md":
                samples += from_markdown(f.read_text(errors="replace"))
            elif f.suffix == ".jsonl" and "bug" in f.name:
                for line in f.read_text().splitlines():
                    if line.strip():
                        samples += from_bug(json.loads(line))
    return samples


_PROMPT = ("From the chip-design text below, write up to 3 training samples as a JSON list of objects with keys "
           "\"kind\" (one of qa, tcl, bugs), \"question\" and \"answer\". Tcl answers must be runnable scripts.\n\n"
           "TEXT:\n{chunk}")


def from_teacher(texts: list[str], teacher, chunk_chars: int = 2000) -> list[dict]:
    """Ask an OpenAI-compatible teacher for QA / Tcl / bug samples per chunk of text."""
    from openai import OpenAI
    client = OpenAI(base_url=teacher.base_url, api_key=os.environ.get(teacher.api_key_env, "none"))
    chunks = [t[i:i + chunk_chars] for t in texts for i in range(0, len(t), chunk_chars)][: teacher.max_chunks]
    out = []
    for chunk in chunks:
        reply = client.chat.completions.create(model=teacher.model, temperature=0.2,
                                               messages=[{"role": "user", "content": _PROMPT.format(chunk=chunk)}])
        body = reply.choices[0].message.content or ""
        m = re.search(r"\[.*\]", body, re.S)
        try:
            items = json.loads(m.group(0)) if m else []
        except json.JSONDecodeError:
            continue
        for it in items if isinstance(items, list) else []:
            if isinstance(it, dict) and it.get("question") and it.get("answer"):
                out.append(_qa(str(it["question"]), str(it["answer"]), str(it.get("kind", "qa"))))
    return out


def dedup_filter(samples: list[dict], cfg: GenDataSection) -> tuple[list[dict], dict]:
    """Drop duplicate questions and short answers; cap each kind. Returns (kept, report per kind)."""
    seen, kept = set(), []
    made, dropped = Counter(s["kind"] for s in samples), Counter()
    per_kind: Counter = Counter()
    for s in samples:
        q = re.sub(r"\W+", " ", s["messages"][0]["content"].lower()).strip()
        a = s["messages"][1]["content"]
        if q in seen or len(a) < cfg.min_answer_chars or per_kind[s["kind"]] >= cfg.max_per_kind:
            dropped[s["kind"]] += 1
            continue
        seen.add(q)
        per_kind[s["kind"]] += 1
        kept.append(s)
    report = {k: {"made": made[k], "dropped": dropped[k], "kept": per_kind[k]} for k in made}
    return kept, report


def generate(roots: list[Path], cfg: GenDataSection, out_path: Path) -> dict:
    """Write deduplicated SFT samples to `out_path` (JSONL, atomically); return counts per kind."""
    if cfg.teacher:
        from adapters.data import load_domain
        samples = from_teacher([t for _, t in load_domain(roots)], cfg.teacher)
    else:
        samples = from_structure(roots)
    kept, report = dedup_filter(samples, cfg)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in kept))
    os.replace(tmp, out_path)
    return {"source": "teacher" if cfg.teacher else "structure", "kept": len(kept), "per_kind": report}
