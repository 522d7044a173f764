"""Tables and plots for bench/retrieval.py results (also usable alone on a saved JSON):

    python bench/retrieval_report.py bench/out/retrieval.json
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

METRICS = ("hit@1", "hit@5", "hit@10", "mrr@10", "p50_ms", "p95_ms")


def _load(load: list[float] | None) -> str:
    """A load average triple as ``1.2/0.9/0.8`` (empty for results saved before loads were recorded)."""
    return "/".join(f"{x:.1f}" for x in load) if load else ""


def _ratio(ours: float, base: float, higher_is_better: bool = True) -> str:
    if not base or not ours:
        return "-"
    r = ours / base if higher_is_better else base / ours
    return f"{r:.2f}x"


def quality_rows(results: dict, key: str = "modes") -> list[tuple[str, dict, dict]]:
    """(label, metrics, system result) for every system and search mode measured; ``key="judged_modes"``:
    the same searches scored against the pooled-judgment golds."""
    rows = []
    if "langchain" in results and results["langchain"].get(key):
        rows.append(("LangChain default (dense)", results["langchain"][key]["dense"], results["langchain"]))
    if "ours" in results:
        for mode, m in results["ours"].get(key, {}).items():
            rows.append((f"ChipAssist {mode}" + (" (default)" if mode == "hybrid" else ""), m, results["ours"]))
    if "fusion" in results and key == "modes":
        for method, m in results["fusion"]["modes"].items():
            rows.append((f"ChipAssist hybrid, {method}", m, {}))
    return rows


def print_tables(results: dict, console: Console | None = None) -> None:
    console = console or Console(width=220)
    base = results.get("langchain")
    base_q = base["modes"]["dense"] if base else None
    rows = quality_rows(results)
    t = Table(title=f"Retrieval quality and speed ({results.get('queries')})")
    for col in ("system", *METRICS, "load 1/5/15", "chunks", "chunks/s", "build s", "peak MB", "vs LangChain"):
        t.add_column(col, justify="left" if col == "system" else "right")
    for label, m, system in rows:
        vs = ""
        if base_q and not label.startswith("LangChain"):
            vs = (f"hit@5 {_ratio(m['hit@5'], base_q['hit@5'])}, p50 {_ratio(m['p50_ms'], base_q['p50_ms'], False)}"
                  + (f", chunks/s {_ratio(system['chunks_per_s'], base['chunks_per_s'])}" if system else ""))
        t.add_row(label, *(f"{m[k]:.3f}" if k.startswith(("hit", "mrr")) else f"{m[k]:.1f}" for k in METRICS),
                  _load(m.get("load")),
                  f"{system['chunks']}" if system else "", f"{system['chunks_per_s']:.1f}" if system else "",
                  f"{system['build_s']:.0f}" if system else "", f"{system['peak_rss_mb']:.0f}" if system else "", vs)
    if rows:
        console.print(t)
        loads = [f"{part} {_load(results[part]['load']['start'])} -> {_load(results[part]['load']['end'])}"
                 for part in ("langchain", "ours", "fusion", "backends") if results.get(part, {}).get("load")]
        if loads:  # query timings are only comparable at similar load (the machine may be shared)
            console.print(f"machine load (1/5/15 min average, {os.cpu_count()} CPUs) at each part's start -> end: "
                          + "; ".join(loads))
    judged = quality_rows(results, "judged_modes")
    if judged:
        base_j = judged[0][1] if judged[0][0].startswith("LangChain") else None
        t = Table(title=f"The same searches against pooled judgments ({results.get('judged')})")
        for col in ("system", "hit@1", "hit@5", "hit@10", "mrr@10", "vs LangChain"):
            t.add_column(col, justify="left" if col == "system" else "right")
        for label, m, _ in judged:
            vs = (f"hit@1 {_ratio(m['hit@1'], base_j['hit@1'])}, hit@5 {_ratio(m['hit@5'], base_j['hit@5'])}"
                  if base_j and not label.startswith("LangChain") else "")
            t.add_row(label, *(f"{m[k]:.3f}" for k in ("hit@1", "hit@5", "hit@10", "mrr@10")), vs)
        console.print(t)
    if "backends" in results:
        b = results["backends"]
        t = Table(title=f"Embedder speed options: quality cost (dense, {b['chunks']} chunks of {b['files']} files)")
        for col in ("option", "hit@1", "hit@5", "hit@10", "mrr@10", "chunks/s", "speed vs torch",
                    "cos to torch (mean/min)"):
            t.add_column(col, justify="left" if col == "option" else "right")
        torch_speed = next(iter(b["options"].values()))["chunks_per_s"]
        for name, m in b["options"].items():
            t.add_row(name, *(f"{m[k]:.3f}" for k in ("hit@1", "hit@5", "hit@10", "mrr@10")),
                      f"{m['chunks_per_s']:.1f}", f"{m['chunks_per_s'] / torch_speed:.2f}x",
                      f"{m['cos_to_torch_mean']:.4f} / {m['cos_to_torch_min']:.4f}")
        console.print(t)


def plot(results: dict, path: Path) -> None:
    """hit@k for k = 1..10, one line per system/mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ks = range(1, 11)
    for label, m, _ in quality_rows(results):
        ranks = [r for r in m["ranks"].values()]
        ax.plot(ks, [sum(1 for r in ranks if r is not None and r <= k) / len(ranks) for k in ks],
                marker="o", label=label, linestyle="--" if label.startswith("LangChain") else "-")
    ax.set_xlabel("k")
    ax.set_ylabel("hit@k")
    ax.set_ylim(0, 1)
    ax.set_xticks(list(ks))
    ax.grid(alpha=0.3)
    ax.set_title("Retrieval on ../shared/corpora (bench/queries/shared.jsonl)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    print_tables(data)
    plot(data, Path(sys.argv[1]).with_suffix(".png"))
