"""The adaptation run's report: report.md (tokenizer table, perplexities, AutoEval per category, tokens/s, goals
met or missed and by how much) and loss.png (DAPT and SFT loss per step). Called by adapters.pipeline."""
from __future__ import annotations

import json
from pathlib import Path

# the goals: domain MC >= base + 5 points, general MC within 1 point, held-out domain perplexity -30%,
# general perplexity +5% at most, tokenizer >= 3% fewer domain tokens and no longer general text
GOALS = {"domain_mc_gain_pts": 5.0, "general_mc_drop_pts": 1.0, "domain_ppl_change_pct": -30.0,
         "general_ppl_change_pct": 5.0, "domain_token_change_pct": -3.0, "general_token_change_pct": 0.0}


def write_loss_plot(report: dict, path: Path) -> bool:
    """Plot the DAPT and SFT loss curves (one line per stage); False when no stage has trained yet."""
    curves = {k: v["losses"] for k, v in report["stages"].items() if isinstance(v, dict) and v.get("losses")}
    if not curves:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.5), squeeze=False)
    for ax, (stage, losses) in zip(axes[0], curves.items()):
        ax.plot(range(1, len(losses) + 1), losses)
        ax.set(title=f"{stage} loss", xlabel="optimizer step", ylabel="loss")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return True


def _acc(cell: dict) -> float:
    """The accuracy the goals use: length-normalised where measured (older reports hold only the raw one)."""
    return cell.get("accuracy_norm", cell["accuracy"])


def _mc(models: dict, name: str, kind: str) -> float | None:
    """Accuracy (points) of one model on the domain or general MC files, pooled over files of that kind."""
    hits = n = 0
    for f, cats in models.get(name, {}).get("mc", {}).items():
        if ("general" in f) == (kind == "general"):
            hits += _acc(cats["overall"]) * cats["overall"]["n"]
            n += cats["overall"]["n"]
    return round(100 * hits / n, 2) if n else None


def goals(report: dict) -> dict:
    """Each goal's measured value, target and whether it is met (None when its stage has not run)."""
    s = report["stages"]
    models = s.get("autoeval", {}).get("models", {})
    best = "dapt+sft" if "dapt+sft" in models else "dapt"
    out: dict = {}

    def put(name, value, ok):
        out[name] = {"value": value, "target": GOALS[name], "met": ok if value is not None else None}

    b, a = _mc(models, "base", "domain"), _mc(models, best, "domain")
    put("domain_mc_gain_pts", round(a - b, 2) if None not in (a, b) else None, a is not None and b is not None
        and a - b >= GOALS["domain_mc_gain_pts"])
    b, a = _mc(models, "base", "general"), _mc(models, best, "general")
    put("general_mc_drop_pts", round(b - a, 2) if None not in (a, b) else None, a is not None and b is not None
        and b - a <= GOALS["general_mc_drop_pts"])
    for kind in ("domain", "general"):
        b, a = models.get("base", {}).get(f"{kind}_ppl"), models.get("dapt", {}).get(f"{kind}_ppl")
        v = round(100 * (a - b) / b, 2) if a and b else None
        put(f"{kind}_ppl_change_pct", v, v is not None and (v <= -30 if kind == "domain" else v <= 5))
    t = s.get("tokenizer", {}).get("change_pct", {})
    put("domain_token_change_pct", t.get("domain"), t.get("domain") is not None and t["domain"] <= -3)
    put("general_token_change_pct", t.get("general"), t.get("general") is not None and t["general"] <= 0)
    return out


def summary_markdown(report: dict) -> str:
    """report.md: one section per measured effect."""
    s = report["stages"]
    lines = [f"# Adaptation report: {report['recipe']}", ""]
    if "import" in s:
        i = s["import"]
        lines.append(f"- base: {i.get('source', i.get('folder'))} ({i.get('architecture', '')}, "
                     f"{i.get('parameters', '?')} parameters, vocab {i.get('vocab', '?')})")
    if "tokenizer" in s:
        t = s["tokenizer"]
        lines += [f"- tokenizer ({t.get('kind', '')}, base vocab {t.get('base_vocab', '?')}): +{t['added']} tokens",
                  "", "| text | tokens/1k chars before | after | change |", "|---|---|---|---|"]
        lines += [f"| {k} | {t['before'][k]} | {t['after'][k]} | {t['change_pct'][k]:+.2f}% |" for k in t["before"]]
        lines.append("")
    for stage in ("dapt", "sft"):
        if stage in s:
            d = s[stage]
            lines.append(f"- {stage.upper()} ({d.get('method')}): {d.get('steps_done', d.get('steps'))} steps in "
                         f"{d.get('train_seconds')} s, {d.get('tokens_per_s')} tokens/s, loss "
                         f"{d.get('loss_first')} -> {d.get('loss_last')}"
                         + (" (stopped by its time budget)" if d.get("stopped_by_budget") else ""))
    if "dapt" in s and {"before", "after"} <= set(s["dapt"].get("eval") or {}):
        e = s["dapt"]["eval"]
        lines.append(f"- DAPT per-token perplexity (augmented tokenizer) before -> after: domain "
                     f"{e['before']['domain_ppl']} -> {e['after']['domain_ppl']}, general "
                     f"{e['before']['general_ppl']} -> {e['after']['general_ppl']}")
    if "gen-data" in s:
        lines.append(f"- gen-data ({s['gen-data'].get('source')}): {json.dumps(s['gen-data'].get('per_kind'))}")
    if "autoeval" in s:
        models = s["autoeval"]["models"]
        names = list(models)
        cats = sorted({(f, c) for m in models.values() for f, r in m["mc"].items() for c in r})
        lines += ["", "| AutoEval (accuracy %, length-normalised / raw) | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for f, c in cats:
            cells = [models[n]["mc"].get(f, {}).get(c) for n in names]
            lines.append(f"| {Path(f).stem} / {c} (n={next(x['n'] for x in cells if x)}) | "
                         + " | ".join(f"{100 * _acc(x):.1f} / {100 * x['accuracy']:.1f}" if x else "-"
                                      for x in cells) + " |")
        for k in ("domain_ppl", "general_ppl"):
            lines.append(f"| held-out {k.split('_')[0]} perplexity (per base token) | "
                         + " | ".join(str(models[n].get(k, "-")) for n in names) + " |")
        lines.append("")
    if "export" in s:
        lines.append(f"- export: {s['export']['folder']}")
    if "serve" in s:
        v = s["serve"]
        lines.append(f"- served ({v['backend']} backend): Q: {v['question']} A: {v['answer'][:300]!r}")
    g = goals(report)
    if any(x["value"] is not None for x in g.values()):
        lines += ["", "| goal | measured | target | met |", "|---|---|---|---|"]
        lines += [f"| {k} | {x['value']} | {x['target']} | {x['met']} |" for k, x in g.items()]
    lines.append(f"- seconds per stage: { {k: v.get('seconds') for k, v in s.items() if isinstance(v, dict)} }")
    return "\n".join(lines) + "\n"
