"""Bug summaries with a real model against the deterministic digest, in the same run: facts kept, latency.

    python bench/bug_summaries.py                                  # the sample export, the embedded 1.5B model
    python bench/bug_summaries.py --model smollm2-135m --limit 2   # plumbing check with the tiny model
    python bench/bug_summaries.py --bugs EXPORT.jsonl --kinds technical

Each bug of the export is summarized through the product's own path (``Assistant.bug_summary`` with
``bugs_file``): once per summary kind with ``llm.backend: llamacpp`` (``technical`` and ``managerial``; the
``assignment`` kind needs no model and would hand the owner to the text, so it is left out) and once with
``none``, whose ``digest`` section (``assistant/bugs/digest.py``) is the baseline.

Expected facts, derived from the bug record alone (fixed rules, the same for every bug):
- ``id``: the bug's ID, as a whole token.
- ``component``: the component field, as a whole word.
- ``owner``: the assignee, its name parts joined by ``.``, ``_``, ``-`` or a space (``priya.raman`` or
  "Priya Raman"); undefined for an unassigned bug.
- ``error``: the symptom as reported: a quoted or backticked span of three or more words in the description
  (the tool's own message, e.g. `ERROR: Assertion failed ...`) when there is one, else the title.
- ``fix``: the first comment that announces a change (fix, fixed, added, implemented, workaround, merged,
  changed, removed, updated, now); undefined when no comment does (an open bug).
``error`` and ``fix`` are kept when the text holds at least half of their key terms (``bench/facts.py``, with
the bug's ID, component and owner excluded from the terms, since they are scored on their own).

Writes bench/out/bug_summaries.json (per-bug facts, texts, timings, and the table's numbers).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.facts import has_fact, key_terms  # noqa: E402
from bench.qa_llm import DEFAULT_MODEL, resolve  # noqa: E402
from bench.tcl_generation import Recorder  # noqa: E402

BUGS = ROOT / "corpora" / "sample" / "bugs" / "bugs.jsonl"
OUT = ROOT / "bench" / "out"
KINDS = ("technical", "managerial")
FACTS = ("id", "component", "owner", "error", "fix")
console = Console(width=None if sys.stdout.isatty() else 140)  # logs keep the tables readable

_QUOTED = re.compile(r"(?<![\w])(?:`([^`\n]{8,200})`|'([^'\n]{8,200})'|\"([^\"\n]{8,200})\")(?![\w])")
_FIX = re.compile(r"\b(?:fix|fixed|fixes|added|implemented|workaround|merged|changed|removed|updated|now)\b", re.I)


# -- expected facts ---------------------------------------------------------------------------------
def error_text(bug) -> str:
    """The reported symptom: the first quoted span of 3+ words in the description, else the title."""
    for m in _QUOTED.finditer(bug.description):
        span = next(g for g in m.groups() if g)
        if len(span.split()) >= 3:
            return span
    return bug.title


def fix_text(bug) -> str:
    """The first comment announcing a change, or "" when none does."""
    return next((c.text for c in bug.comments if _FIX.search(c.text)), "")


def expected_facts(bug) -> dict:
    """{fact: what is looked for}: a string for id/component/owner, key terms for error/fix; None: undefined."""
    scored_alone = " ".join([bug.id, bug.component, bug.assignee, re.sub(r"[._-]", " ", bug.assignee)])
    fix = fix_text(bug)
    return {"id": bug.id, "component": bug.component or None, "owner": bug.assignee or None,
            "error": key_terms(error_text(bug), scored_alone) or None,
            "fix": (key_terms(fix, scored_alone) or None) if fix else None}


def _whole(needle: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){needle}(?![A-Za-z0-9_])", text, re.I) is not None


def kept(fact: str, expected, text: str) -> bool | None:
    """Whether ``text`` keeps one expected fact (None when the fact is undefined for the bug)."""
    if expected is None:
        return None
    if fact in ("error", "fix"):
        return has_fact(text, expected)
    if fact == "owner":
        parts = [re.escape(p) for p in re.split(r"[._\-\s]+", expected) if p]
        return _whole(r"[._\-\s]?".join(parts), text)
    return _whole(re.escape(expected), text)


def facts_kept(expected: dict, text: str) -> dict:
    return {f: kept(f, expected[f], text) for f in FACTS}


# -- the run ---------------------------------------------------------------------------------------
def make_bots(model: str, data_dir: Path, llm: dict | None = None):
    """(the llamacpp assistant with its calls recorded, the `none` assistant)."""
    from assistant.config import load_settings
    from assistant.service import Assistant

    config = {"backend": "llamacpp", "model_path": str(resolve(model)), "temperature": 0.0, **(llm or {})}
    bot = Assistant(load_settings(None, data_dir=data_dir, llm=config))
    bot.llm = Recorder(bot.llm)  # loads the model now, outside any timing
    bot.llm.llm.complete([{"role": "user", "content": "Say OK."}], max_tokens=2)  # warm-up, not recorded
    return bot, Assistant(load_settings(None, data_dir=data_dir, llm={"backend": "none"}))


def _timed(bot, bug_id: str, kind: str, bugs: Path, groups):
    started = time.perf_counter()
    summary = bot.bug_summary(bug_id, kind=kind, bugs_file=bugs, user_groups=groups)
    return summary, round(time.perf_counter() - started, 3)


def run(bugs: Path, model: str, *, limit: int | None = None, kinds: tuple[str, ...] = KINDS,
        llm: dict | None = None, data_dir: Path | None = None) -> dict:
    """Summarize the first ``limit`` bugs of ``bugs`` with the model (each kind) and as a digest; the report."""
    from assistant.bugs.store import with_acls
    from corpora.bugs import load_bug_export

    records = with_acls(load_bug_export(bugs).records, bugs)[:limit]
    groups = sorted({g for b in records for g in b.acl})  # the bench may read every bug it scores
    bot, baseline = make_bots(model, data_dir or OUT / "bug_summaries_data", llm)
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = []
    for bug in track(records, description=f"summarizing with {bot.llm.model}", console=console):
        expected = expected_facts(bug)
        row = {"id": bug.id, "expected": expected, "comments": len(bug.comments), "llm": {}}
        texts = []
        for kind in kinds:
            bot.llm.calls.clear()
            summary, seconds = _timed(bot, bug.id, kind, bugs, groups)
            # the model's own writing is scored; the `facts` line above it is read from the record
            text = "\n\n".join(v for k, v in summary.sections.items() if k not in ("assignment", "facts"))
            texts.append(text)
            row["llm"][kind] = {"text": text, "seconds": seconds, "fallback": summary.retrieval_only,
                                "warnings": summary.warnings, "calls": len(bot.llm.calls),
                                "prompt_tokens": [c["prompt_tokens"] for c in bot.llm.calls],
                                "kept": facts_kept(expected, text),
                                "kept with facts line": facts_kept(expected, "\n".join(
                                    [summary.sections.get("facts", ""), text]))}
        facts_line = summary.sections.get("facts", "")
        row["llm"]["all kinds"] = {"kept": facts_kept(expected, "\n\n".join(texts)),
                                   "kept with facts line": facts_kept(expected, "\n\n".join([facts_line, *texts])),
                                   "seconds": round(sum(row["llm"][k]["seconds"] for k in kinds), 3)}
        summary, seconds = _timed(baseline, bug.id, kinds[0], bugs, groups)
        digest = summary.sections.get("digest", "")
        row["digest"] = {"text": digest, "seconds": seconds, "kept": facts_kept(expected, digest)}
        rows.append(row)
    systems = {**{f"LLM {k}": [r["llm"][k] for r in rows] for k in kinds},
               **({"LLM all kinds": [r["llm"]["all kinds"] for r in rows]} if len(kinds) > 1 else {}),
               # what the user reads: the facts line from the record above the model's summary
               "LLM + facts line": [{**r["llm"][kinds[-1] if len(kinds) == 1 else "all kinds"],
                                     "kept": r["llm"][kinds[-1] if len(kinds) == 1 else "all kinds"]
                                     ["kept with facts line"]} for r in rows],
               "digest (baseline)": [r["digest"] for r in rows]}
    return {"model": bot.llm.model, "bugs_file": str(bugs), "bugs": len(rows), "kinds": list(kinds),
            "context_tokens": bot.llm.context_tokens, "seconds": round(time.perf_counter() - started, 1),
            "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "metrics": {name: aggregate(items) for name, items in systems.items()}, "rows": rows}


def aggregate(items: list[dict]) -> dict:
    """Per fact, the share of bugs (where the fact is defined) whose text keeps it; the mean over facts; latency."""
    out = {}
    for fact in FACTS:
        values = [i["kept"][fact] for i in items if i["kept"][fact] is not None]
        out[fact] = round(sum(values) / len(values), 4) if values else None
        out[f"{fact}_n"] = len(values)
    defined = [out[f] for f in FACTS if out[f] is not None]
    out["mean"] = round(sum(defined) / len(defined), 4) if defined else None
    seconds = sorted(i["seconds"] for i in items if i.get("seconds") is not None)
    out["seconds_p50"] = round(statistics.median(seconds), 3) if seconds else None
    out["seconds_max"] = seconds[-1] if seconds else None
    out["fallbacks"] = sum(bool(i.get("fallback")) for i in items)
    return out


def show(report: dict) -> None:
    table = Table(title=f"Bug summaries, {report['model']}, {report['bugs']} bugs ({Path(report['bugs_file']).name}): "
                        "facts kept")
    for col in ("summary", *FACTS, "mean", "vs digest", "s p50", "s max", "fallbacks"):
        table.add_column(col, justify="left" if col == "summary" else "right")
    base = report["metrics"]["digest (baseline)"]["mean"]
    for name, m in report["metrics"].items():
        cells = [f"{m[f]:.0%} ({m[f + '_n']})" if m[f] is not None else "-" for f in FACTS]
        table.add_row(name, *cells, f"{m['mean']:.0%}" if m["mean"] is not None else "-",
                      f"{m['mean'] / base:.2f}x" if m["mean"] is not None and base else "-",
                      f"{m['seconds_p50']:.1f}" if m["seconds_p50"] is not None else "-",
                      f"{m['seconds_max']:.1f}" if m["seconds_max"] is not None else "-", str(m["fallbacks"]))
    console.print(table)
    lost = [(r["id"], k, [f for f, v in r["llm"][k]["kept"].items() if v is False])
            for r in report["rows"] for k in report["kinds"]]
    lost = [x for x in lost if x[2]]
    if lost:
        console.print("[bold]Facts the model dropped[/] (bug, kind: facts): "
                      + "; ".join(f"{i} {k}: {', '.join(f)}" for i, k, f in lost[:20]))
    console.print(f"[dim]{report['seconds']:.0f} s; load average {report['load_before'][0]} -> "
                  f"{report['load_after'][0]} on {report['cpus']} CPUs; context {report['context_tokens']} tokens[/]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or GGUF path")
    ap.add_argument("--bugs", type=Path, default=BUGS, help="a bug export (JSONL, CSV or GitHub issues JSON)")
    ap.add_argument("--limit", type=int, default=None, help="the first N bugs")
    ap.add_argument("--kinds", default=",".join(KINDS), help="summary kinds to write with the model")
    ap.add_argument("--context-tokens", type=int, help="llm.context_tokens (the summary length is a quarter, "
                                                       "at most 512)")
    ap.add_argument("--threads", type=int, help="llama.cpp threads; default: one per physical core")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if not kinds or set(kinds) - set(KINDS):
        sys.exit(f"--kinds: choose from {', '.join(KINDS)}")
    llm = {k: v for k, v in (("context_tokens", args.context_tokens), ("threads", args.threads)) if v is not None}
    report = run(args.bugs, args.model, limit=args.limit, kinds=kinds, llm=llm, data_dir=args.out / "bug_summaries_data")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bug_summaries.json"
    path.write_text(json.dumps(report, indent=2))
    show(report)
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
