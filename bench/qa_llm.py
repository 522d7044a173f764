"""Grounded Q&A with a real model, against the retrieval-only answer in the same run.

    python bench/qa_llm.py                                  # 80 questions + 10 off-topic, the embedded 1.5B model
    python bench/qa_llm.py --index DIR                      # an existing index of ../shared/corpora
    python bench/qa_llm.py --model smollm2-135m --limit 2   # plumbing check with the tiny model
    python bench/qa_llm.py --offtopic-only                  # only the abstention set

Each question goes through the product's own path twice: ``Assistant.ask_stream`` with ``llm.backend:
llamacpp`` (the prompt budget, focused source windows, the citation filter and the attribution block all as
shipped; temperature 0 so a run can be repeated) and with ``none`` (the retrieval-only answer, the baseline).
The questions are ``bench/queries/shared.jsonl`` over ``../shared/corpora``, scored on the written key and
on the pooled-judgment key (``shared-judged.jsonl``); a gold passage is matched by the rule of
``retriever.evaluate`` (``is_hit``: gold source, and the chunk contains the gold text).

Metrics (per key; each for the model and for the retrieval-only answer where it applies):
- citation validity: share of answers whose every ``[n]`` (in the model's own text, the attribution block
  left out) names one of the answer's sources; also measured on the model's raw output, before the
  product's citation filter removes invalid numbers (the filter makes the shown text valid by design).
- cited-gold rate: share of answers whose cited sources include a gold passage (retrieval-only "cites"
  every passage it shows, so its rate is hit@k); also among answers whose sources hold a gold passage, and
  counting the sources the attribution block assigns.
- gold-fact rate: among answers whose sources hold a gold passage, the share whose text holds that gold's
  fact. There is no expected-answer field in the question files, so the fact is the key terms of the gold's
  ``contains`` text that the question does not already name (the rule of ``bench/facts.py``, fixed before
  any run and never tuned on these questions); the baseline is the retrieval-only text (its snippets).
- abstention: on ``OFF_TOPIC`` (10 questions about things the corpus does not hold, written for this
  bench) the share of answers that say the sources do not cover it (``ABSTAIN`` below); for retrieval-only,
  the share that return no passage. On the engineers' questions the same detector gives false abstentions.
  Counted twice for the LLM: the model's own words (it said the sources do not cover it), and what the user
  sees (an abstention the product followed with the closest passages, ``assistant.qa.CLOSEST_LABEL``,
  because a source matched the question strongly, is not an abstention to the user); the number of answers
  given that block, and the gold fact in the shown text (the model's words plus that block), are reported.
- attribution block: share of answers where the model cited nothing and the product added its
  "Sources by sentence" block.
- speed: latency, time to first token (the first streamed piece of ``ask_stream``, retrieval and prompt
  processing included), decode tokens/s (answer tokens after the first over the time after it), prompt
  and answer tokens.

Writes bench/out/qa_llm.json (settings, machine load, metrics, failure cases) and bench/out/qa_llm.jsonl
(one record per question: both answers, their sources, timings and scores). Takes about an hour with the
1.5B model on 2 idle cores.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from assistant.citations import ABSTENTION, ATTRIBUTION_HEADING, CITATION_RUN, NUMBERS  # noqa: E402
from assistant.qa import CLOSEST_LABEL  # noqa: E402
from bench.facts import has_fact, key_terms  # noqa: E402
from bench.retrieval import CORPUS, JUDGED, QUERIES  # noqa: E402
from bench.tcl_generation import Recorder  # noqa: E402
from retriever.evaluate import is_hit, load_queries, normalize  # noqa: E402

OUT = ROOT / "bench" / "out"
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
console = Console(width=None if sys.stdout.isatty() else 140)  # logs keep the tables readable

# Questions the corpus cannot answer: everyday topics, and chip-design ones about IP blocks, commands and
# registers that do not exist (retrieval still finds related passages for these, which is the hard case).
OFF_TOPIC = [
    ("off-egg", "How many minutes should I boil an egg to get a soft yolk?"),
    ("off-bread", "What ratio of flour to water do I need for a sourdough starter?"),
    ("off-football", "Who won the FIFA World Cup final in 2014 and what was the score?"),
    ("off-car", "How often should I change the engine oil of a 2015 Toyota Corolla?"),
    ("off-capital", "What is the capital city of Australia?"),
    ("off-pandas", "What does the pandas DataFrame.pivot_table function do with the aggfunc argument?"),
    ("off-ip-block", "What is the reset value of the WARP_CTRL register of the OpenTitan flux_capacitor IP block?"),
    ("off-or-command", "Which option of the OpenROAD quantum_tunnel_repair command sets the tunnelling probability?"),
    ("off-ip-dma", "How many teleport descriptors does the OpenTitan hyperdrive_dma block support?"),
    ("off-cpu", "What is the maximum turbo frequency of the Intel Core i9-13900K processor?"),
]

# The model says the sources do not hold the answer: the product's own detector (assistant.citations), matched
# in the model's own text only.
ABSTAIN = ABSTENTION


class StreamRecorder(Recorder):
    """bench/tcl_generation.py's Recorder with a real stream: pieces pass through as the model writes them
    (so the product streams as it does for users), and the call is recorded with the times of its first
    and last piece."""

    def stream(self, messages, **kw):
        started, first, pieces = time.perf_counter(), None, []
        try:
            for piece in self.llm.stream(messages, **kw):
                first = first or time.perf_counter()
                pieces.append(piece)
                yield piece
        finally:
            ended, text = time.perf_counter(), "".join(pieces)
            self.calls.append({"prompt_tokens": self.llm.count_tokens("\n".join(m["content"] for m in messages)),
                               "answer_tokens": self.llm.count_tokens(text) if text else 0,
                               "first_s": (first or ended) - started, "seconds": ended - started,
                               "messages": messages, "answer": text})


# -- the two systems ------------------------------------------------------------------------------
def resolve(model: str) -> Path:
    """The GGUF file of ``model`` (a path, or an embedded model's name in $CHIPASSIST_MODELS_DIR, ./models or
    the project's models/)."""
    from assistant.llm.models import MODELS, ModelMissing, resolve_model

    try:
        return resolve_model(model)
    except ModelMissing:
        if model in MODELS and (ROOT / "models").is_dir():
            return resolve_model(model, ROOT / "models")
        raise


def make_bots(index: Path, model: str, data_dir: Path, llm: dict | None = None):
    """(the llamacpp assistant with its calls recorded, the retrieval-only assistant on the same index)."""
    from assistant.config import load_settings
    from assistant.service import Assistant

    config = {"backend": "llamacpp", "model_path": str(resolve(model)), "temperature": 0.0, **(llm or {})}
    bot = Assistant(load_settings(None, index_dir=index, data_dir=data_dir, llm=config))
    bot.llm = StreamRecorder(bot.llm)  # loads the model now, outside any timing
    bot.llm.llm.complete([{"role": "user", "content": "Say OK."}], max_tokens=2)  # warm-up, not recorded
    baseline = bot.using(backend="none")  # one opened index (and embedder) for both
    return bot, baseline


def ask(bot, question: str) -> dict:
    """One answer through ``ask_stream``: the Answer, the time to its first piece and in all, and the model
    call it made (None for retrieval-only or when the LLM failed before writing)."""
    calls = getattr(bot.llm, "calls", None)
    if calls is not None:
        calls.clear()
    started = time.perf_counter()
    first = None
    for item in bot.ask_stream(question):
        if isinstance(item, str):
            first = first or time.perf_counter()
        else:
            answer = item
    ended = time.perf_counter()
    return {"answer": answer, "ttft_s": (first or ended) - started, "seconds": ended - started,
            "call": calls[-1] if calls else None}


# -- scoring ---------------------------------------------------------------------------------------
def cited_numbers(text: str) -> list[int]:
    """Every number cited as [n] in ``text`` (indexes such as data[7] are not citations), in order."""
    return [int(n) for m in CITATION_RUN.finditer(text) for n in NUMBERS.findall(m.group(1))]


def split_attribution(text: str) -> tuple[str, str]:
    """(the model's own text, the product's attribution block or the closest-passages block, or "")."""
    for heading in (ATTRIBUTION_HEADING, "\n\n" + CLOSEST_LABEL):
        head, sep, block = text.partition(heading)
        if sep:
            return head, sep + block
    return text, ""


def answer_record(result: dict) -> dict:
    """What one answer is scored on (key-independent)."""
    a = result["answer"]
    call = result["call"] or {}
    own, block = split_attribution(a.text)
    n = len(a.sources)
    cited = cited_numbers(own) if not a.retrieval_only else [s.n for s in a.sources]
    raw = call.get("answer", "")
    invalid_raw = [c for c in cited_numbers(raw) if not 1 <= c <= n]
    decode = call.get("seconds", 0) - call.get("first_s", 0)
    tokens = call.get("answer_tokens", 0)
    return {
        "text": a.text, "model_text": own if not a.retrieval_only else "", "raw": raw,
        "retrieval_only": a.retrieval_only, "backend": a.backend, "warnings": a.warnings,
        "sources": [{"n": s.n, "chunk_id": s.chunk_id, "path": s.path, "title": s.title} for s in a.sources],
        "cited": sorted(set(cited)),
        "attributed": sorted(set(cited_numbers(block)) - set(cited)) if ATTRIBUTION_HEADING in block else [],
        "citations_valid": all(1 <= c <= n for c in cited), "raw_citations_valid": not invalid_raw,
        "invalid_raw": invalid_raw, "attribution_block": ATTRIBUTION_HEADING in block,
        "closest_block": CLOSEST_LABEL in block,
        # what the model itself said (None for retrieval-only) and what the user sees: retrieval-only (the
        # baseline, or the LLM's fallback) abstains only by returning no passage, and an abstention followed
        # by the closest passages shows the user an answer
        "model_abstained": None if a.retrieval_only else bool(ABSTAIN.search(own)),
        "abstained": not a.sources if a.retrieval_only else bool(ABSTAIN.search(own)) and CLOSEST_LABEL not in block,
        "latency_s": round(result["seconds"], 3), "ttft_s": round(result["ttft_s"], 3),
        "prompt_tokens": call.get("prompt_tokens"), "answer_tokens": tokens or None,
        "decode_tps": round((tokens - 1) / decode, 2) if tokens > 1 and decode > 0 else None,
        "prompt": call["messages"][-1]["content"] if call else "",
    }


def gold_scores(rec: dict, question, index, chunk_cache: dict) -> dict:
    """How one answer fares against one key's golds for ``question`` (an EvalQuery)."""
    from retriever.types import SearchHit

    def chunk(cid):
        if cid not in chunk_cache:
            chunk_cache[cid] = index.get(cid)
        return chunk_cache[cid]

    gold_ns, retrieved = set(), []
    for s in rec["sources"]:
        c = chunk(s["chunk_id"])
        golds = [g for g in question.gold if c is not None and is_hit(SearchHit(c, 0.0, s["n"]), [g])]
        if golds:
            gold_ns.add(s["n"])
            retrieved += golds
    text = rec["model_text"] if not rec["retrieval_only"] else rec["text"]
    facts = [key_terms(g.contains, question.query) for g in retrieved]
    verdicts = [has_fact(text, terms) for terms in facts if terms]
    shown = [has_fact(rec["text"], terms) for terms in facts if terms]
    prompt = normalize(rec["prompt"])
    return {
        "gold_ns": sorted(gold_ns), "gold_retrieved": bool(gold_ns),
        "cited_gold": bool(gold_ns & set(rec["cited"])),
        "cited_or_attributed_gold": bool(gold_ns & (set(rec["cited"]) | set(rec["attributed"]))),
        "fact_terms": facts, "fact": any(verdicts) if verdicts else None,
        "fact_shown": any(shown) if shown else None,
        "gold_in_prompt": any(normalize(g.contains) in prompt for g in retrieved) if prompt else None,
    }


def _share(values) -> float | None:
    values = [bool(v) for v in values if v is not None]
    return round(sum(values) / len(values), 4) if values else None


def _pct(values, q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


def metrics(records: list[dict], system: str, key: str | None) -> dict:
    """Aggregate metrics of one system ("llm" or "baseline") over on-topic records on one key, plus
    abstention over the off-topic records."""
    on = [r for r in records if r["set"] == "on"]
    off = [r for r in records if r["set"] == "off"]
    answers = [r[system] for r in on]
    scores = [r["keys"][key][system] for r in on] if key else []
    with_gold = [s for s in scores if s["gold_retrieved"]]
    m = {
        "answers": len(on), "offtopic": len(off),
        "citation_validity": _share(a["citations_valid"] for a in answers),
        "raw_citation_validity": _share(a["raw_citations_valid"] for a in answers) if system == "llm" else None,
        "cites_any": _share(bool(a["cited"]) for a in answers),
        "gold_retrieved": _share(s["gold_retrieved"] for s in scores),
        "cited_gold": _share(s["cited_gold"] for s in scores),
        "cited_gold_when_retrieved": _share(s["cited_gold"] for s in with_gold),
        "cited_or_attributed_gold": _share(s["cited_or_attributed_gold"] for s in scores),
        "fact_when_retrieved": _share(s["fact"] for s in with_gold),
        "fact_shown_when_retrieved": _share(s.get("fact_shown") for s in with_gold),
        "fact_defined": sum(s["fact"] is not None for s in with_gold),
        "attribution_block": _share(a["attribution_block"] for a in answers),
        "false_abstention": _share(a["abstained"] for a in answers),
        "offtopic_abstention": _share(r[system]["abstained"] for r in off),
        "model_false_abstention": _share(a["model_abstained"] for a in answers) if system == "llm" else None,
        "model_offtopic_abstention": _share(r[system]["model_abstained"] for r in off) if system == "llm" else None,
        "closest_blocks": sum(a["closest_block"] for a in answers) if system == "llm" else 0,
        "closest_blocks_offtopic": sum(r[system]["closest_block"] for r in off) if system == "llm" else 0,
        "fallbacks": sum(a["retrieval_only"] for a in answers) if system == "llm" else 0,
    }
    every = answers + [r[system] for r in off]
    for name in ("latency_s", "ttft_s", "decode_tps", "prompt_tokens", "answer_tokens"):
        values = [a[name] for a in every]
        m[f"{name}_p50"] = _pct(values, 0.5)
        m[f"{name}_p95"] = _pct(values, 0.95) if name in ("latency_s", "ttft_s") else None
    return m


def failure_reasons(rec: dict, key: str = "written") -> list[str]:
    """Why the model's answer to one question falls short, most basic cause first."""
    llm = rec["llm"]
    if rec["set"] == "off":
        return [] if llm["abstained"] else ["answered an off-topic question instead of saying the sources do not "
                                            "cover it"]
    reasons = []
    if llm["retrieval_only"]:
        reasons.append("LLM failed: " + "; ".join(w for w in llm["warnings"] if "LLM" in w))
    g, base = rec["keys"][key]["llm"], rec["keys"][key]["baseline"]
    if not base["gold_retrieved"]:
        reasons.append("retrieval: no gold passage in the top k")
    elif not g["gold_retrieved"]:
        reasons.append(f"prompt budget: gold passage retrieved as source {base['gold_ns']} but dropped from the "
                       f"prompt ({len(llm['sources'])} of {len(rec['baseline']['sources'])} sources kept)")
    elif g["gold_in_prompt"] is False:
        reasons.append("focus/truncation: the gold passage is in the prompt but not its gold text")
    if llm["model_abstained"]:
        reasons.append("abstained" + (" although the gold text was in the prompt" if g["gold_in_prompt"] else "")
                       + (" (closest passages shown)" if llm["closest_block"] else ""))
    if g["fact"] is False:
        reasons.append(f"answer lacks the gold fact (key terms {g['fact_terms']})")
    if llm["invalid_raw"]:
        reasons.append(f"cited non-existent source(s) {llm['invalid_raw']} (removed by the filter)")
    if not llm["retrieval_only"] and not llm["cited"]:
        reasons.append("cited nothing (attribution block added)" if llm["attribution_block"] else "cited nothing")
    elif g["gold_retrieved"] and not g["cited_gold"]:
        reasons.append(f"cited {llm['cited']}, not the gold source(s) {g['gold_ns']}")
    return reasons


# -- the run ---------------------------------------------------------------------------------------
def run(index: Path, queries: Path, judged: Path | None, model: str, *, limit: int | None = None,
        offtopic_only: bool = False, llm: dict | None = None, data_dir: Path | None = None) -> tuple[dict, list]:
    """Ask every question (``limit``: the first N of each set) of both systems; (report, per-question records)."""
    keys = {"written": {q.id: q for q in load_queries(queries)}}
    if judged and Path(judged).is_file():
        keys["judged"] = {q.id: q for q in load_queries(judged)}
    questions = [] if offtopic_only else list(keys["written"].values())[:limit]
    offtopic = OFF_TOPIC[:limit]
    bot, baseline = make_bots(index, model, data_dir or OUT / "qa_llm_data", llm)
    load_before = os.getloadavg()
    started = time.perf_counter()
    records, chunks = [], {}
    items = [("on", q.id, q.query) for q in questions] + [("off", i, text) for i, text in offtopic]
    for kind, qid, text in track(items, description=f"asking {bot.llm.model}", console=console):
        rec = {"id": qid, "set": kind, "question": text,
               "llm": answer_record(ask(bot, text)), "baseline": answer_record(ask(baseline, text)), "keys": {}}
        if kind == "on":
            for key, qs in keys.items():
                if qid in qs:
                    rec["keys"][key] = {s: gold_scores(rec[s], qs[qid], bot.index, chunks) for s in ("llm", "baseline")}
        rec["failures"] = failure_reasons(rec) if kind == "off" or "written" in rec["keys"] else []
        records.append(rec)
    settings = bot.settings.llm
    report = {
        "model": bot.llm.model, "model_path": str(settings.model_path), "index": str(index),
        "queries": str(queries), "judged": str(judged) if "judged" in keys else None,
        "questions": len(questions), "offtopic": len(offtopic), "k": bot.settings.retrieval.k,
        "llm_settings": {"max_new_tokens": settings.max_new_tokens, "context_tokens": bot.llm.context_tokens,
                         "prompt_tokens": settings.prompt_tokens or bot.llm.default_prompt_tokens,
                         "temperature": settings.temperature, "threads": settings.threads},
        "seconds": round(time.perf_counter() - started, 1), "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "metrics": {key: {s: metrics(records, s, key) for s in ("llm", "baseline")} for key in keys}
        if questions else {"offtopic": {s: metrics(records, s, None) for s in ("llm", "baseline")}},
        "failures": [{"id": r["id"], "question": r["question"], "reasons": r["failures"],
                      "answer": r["llm"]["model_text"][:300] or r["llm"]["text"][:300]}
                     for r in records if r["failures"]],
    }
    return report, records


def write(report: dict, records: list[dict], out_dir: Path = OUT) -> tuple[Path, Path]:
    """bench/out/qa_llm.json and qa_llm.jsonl (or under ``out_dir``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, per_question = out_dir / "qa_llm.json", out_dir / "qa_llm.jsonl"
    summary.write_text(json.dumps(report, indent=2))
    with open(per_question, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    return summary, per_question


def _fmt(value, pct: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if pct else f"{value:g}"


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


ROWS = [("citation validity (shown text)", "citation_validity", True),
        ("citation validity (raw model output)", "raw_citation_validity", True),
        ("answers citing any source", "cites_any", True),
        ("gold passage among the sources", "gold_retrieved", True),
        ("cited-gold rate", "cited_gold", True),
        ("cited-gold rate, gold among sources", "cited_gold_when_retrieved", True),
        ("cited or attributed gold", "cited_or_attributed_gold", True),
        ("gold fact in answer, gold among sources", "fact_when_retrieved", True),
        ("gold fact in shown text (+ closest passages)", "fact_shown_when_retrieved", True),
        ("answers with attribution block", "attribution_block", True),
        ("abstention, off-topic: model's words", "model_offtopic_abstention", True),
        ("abstention, off-topic: shown to the user", "offtopic_abstention", True),
        ("false abstention, on-topic: model's words", "model_false_abstention", True),
        ("false abstention, on-topic: shown to the user", "false_abstention", True),
        ("closest passages shown after an abstention (on / off)", ("closest_blocks", "closest_blocks_offtopic"),
         False),
        ("LLM failures (fell back)", "fallbacks", False),
        ("latency p50 / p95 s", ("latency_s_p50", "latency_s_p95"), False),
        ("first piece p50 / p95 s", ("ttft_s_p50", "ttft_s_p95"), False),
        ("decode tokens/s p50", "decode_tps_p50", False),
        ("prompt / answer tokens p50", ("prompt_tokens_p50", "answer_tokens_p50"), False)]


def show(report: dict, failures: int = 15) -> None:
    for key, systems in report["metrics"].items():
        llm, base = systems["llm"], systems["baseline"]
        table = Table(title=f"Grounded Q&A, {report['model']}, key: {key} ({llm['answers']} questions, "
                            f"{llm['offtopic']} off-topic)")
        for col in ("metric", "LLM (llamacpp)", "retrieval-only", "LLM / retrieval-only"):
            table.add_column(col, justify="left" if col == "metric" else "right")
        for label, name, pct in ROWS:
            if isinstance(name, tuple):
                table.add_row(label, " / ".join(_fmt(llm[n], False) for n in name),
                              " / ".join(_fmt(base[n], False) for n in name), "")
            else:
                table.add_row(label, _fmt(llm[name], pct), _fmt(base[name], pct),
                              _ratio(llm[name], base[name]) if pct else "")
        console.print(table)
    shown = report["failures"][:failures]
    if shown:
        console.print(f"[bold]Failure cases[/] ({len(report['failures'])} in all; first {len(shown)}):")
        for f in shown:
            console.print(f"- {f['id']}: {'; '.join(f['reasons'])}\n  [dim]{' '.join(f['answer'].split())[:160]}[/]")
    s = report["llm_settings"]
    console.print(f"[dim]{report['seconds']:.0f} s; load average {report['load_before'][0]} -> "
                  f"{report['load_after'][0]} on {report['cpus']} CPUs; prompt budget {s['prompt_tokens']} "
                  f"tokens, max_new_tokens {s['max_new_tokens']}, context {s['context_tokens']}[/]")


def ensure_index(index: Path, corpus: Path) -> None:
    """Build the default index of ``corpus`` at ``index`` when there is none (as bench/retrieval.py does)."""
    if index.is_dir():
        return
    if not corpus.is_dir():
        sys.exit(f"no index at {index} and no corpus at {corpus} to build one from")
    from retriever.index import build_index

    console.print(f"building the index of {corpus} at {index} (default IndexConfig; minutes on 2 cores)")
    build_index([corpus], index, progress=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or GGUF path")
    ap.add_argument("--limit", type=int, default=None, help="the first N questions of each set")
    ap.add_argument("--index", type=Path, default=OUT / "qa_llm_index",
                    help="an index of --corpus; built there (default config) when missing")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--queries", type=Path, default=QUERIES)
    ap.add_argument("--judged", type=Path, default=JUDGED)
    ap.add_argument("--offtopic-only", action="store_true")
    ap.add_argument("--max-new-tokens", type=int, help="default: the product's llm.max_new_tokens")
    ap.add_argument("--prompt-tokens", type=int, help="prompt budget; default: the backend's (600 for llamacpp)")
    ap.add_argument("--threads", type=int, help="llama.cpp threads; default: one per physical core")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    ensure_index(args.index, args.corpus)
    llm = {k: v for k, v in (("max_new_tokens", args.max_new_tokens), ("prompt_tokens", args.prompt_tokens),
                             ("threads", args.threads)) if v is not None}
    report, records = run(args.index, args.queries, args.judged, args.model, limit=args.limit,
                          offtopic_only=args.offtopic_only, llm=llm, data_dir=args.out / "qa_llm_data")
    paths = write(report, records, args.out)
    show(report)
    console.print(f"wrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
