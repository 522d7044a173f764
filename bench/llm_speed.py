"""Generation speed on a CPU: llama.cpp (the product backend) against transformers-GGUF, on one typical prompt.

    python bench/llm_speed.py                                   # the embedded 1.5B model, both runtimes
    python bench/llm_speed.py --skip-transformers --repeats 3   # llama.cpp only (transformers fp32 is slow)
    python bench/llm_speed.py --model smollm2-135m --new-tokens 32    # plumbing check with the tiny model

The prompt is what a user gets: the sample corpus's index (built in a temporary folder, or ``--index``), the
question retrieved and formatted by the product's own Q&A path (``assistant.qa``: top-k sources, the CPU
prompt budget, focused passage windows, ``assistant.prompts.build_prompt``), sent through
``LlamaCppBackend.stream``. transformers loads the same GGUF file (``gguf_file=``, dequantized to fp32) and
decodes greedily from the same messages through the same chat template (the one in the GGUF).

Per runtime, each in its own subprocess (so load time is cold and peak RSS is that runtime's own): load time,
prompt tokens, time to first token (prompt processing + first sample), decode tokens/s after the first token,
peak RSS. llama.cpp counts tokens exactly from its context (``Llama.n_tokens`` as each piece arrives).
llama.cpp runs each repeat twice: **cold** (context and warmed prefixes dropped: the whole prompt is
processed) and **warm** (the product's state for every question after load: the constant system prompts
were evaluated by ``LlamaCppBackend.warm`` and the Q&A one is restored before the question, so only the
sources and question are processed; the restore's own time is inside the first-token time, and the tokens
llama.cpp actually evaluated are reported).

Decode on a CPU is bound by memory bandwidth: every new token reads every weight once. So the bench measures
read bandwidth (numpy sums over a 1 GiB array, one chunk per thread, best of 3) and reports
weights bytes / bandwidth as the ceiling on tokens/s and the share of it each runtime reaches. The machine's
load average and CPU count are printed beside the timings: on a shared machine the numbers mean little
without them. JSON goes to bench/out/llm_speed_<model>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = ROOT / "bench" / "out"
QUESTION = "How do I reset the DMA engine and what clears its error status?"  # the `make demo` question
SOURCES = 5
MiB = 1 << 20


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise KeyError(field)


def peak_rss_mb() -> float:
    """This process's peak resident set so far. VmHWM, not ru_maxrss: execve keeps ru_maxrss, so a spawned
    worker would report its parent's peak (the 1 GiB bandwidth array) as its own."""
    try:
        return _status_mb("VmHWM")
    except (OSError, KeyError):  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    """This process's resident set now."""
    import psutil

    return psutil.Process().memory_info().rss / MiB


def machine() -> dict:
    """CPU count, physical cores and the 1/5/15-minute load averages right now."""
    from assistant.llm.llamacpp_backend import physical_cores

    return {"cpus": os.cpu_count(), "physical_cores": physical_cores(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            # llama.cpp's CPU threads synchronise through OpenMP here: its wait policy matters on a busy machine
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}


# -- memory bandwidth: the ceiling on CPU decode -------------------------------------------------------
def read_bandwidth(nbytes: int = 1 << 30, threads: int = 1, repeats: int = 3) -> dict:
    """Read bandwidth in GB/s: numpy sums over an ``nbytes`` float64 array split into one chunk per thread
    (numpy releases the GIL inside a reduction), best of ``repeats``; also the single-thread figure.

    Decoding a token reads every weight once, so this is the rate at which a CPU can stream a model."""
    import numpy as np

    data = np.ones(max(nbytes // 8, 1 << 16), dtype=np.float64)  # written once: pages are really mapped
    chunks = np.array_split(data, max(threads, 1))

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return data.nbytes / min(times) / 1e9

    single = best(data.sum)
    with ThreadPoolExecutor(max(threads, 1)) as pool:
        multi = best(lambda: list(pool.map(np.sum, chunks)))
    return {"bytes": int(data.nbytes), "threads": threads, "repeats": repeats,
            "gb_s": round(max(single, multi), 2), "gb_s_1thread": round(single, 2)}


def decode_bound(model_bytes: int, gb_s: float) -> float:
    """The most tokens/s a runtime streaming ``model_bytes`` of weights per token can decode at ``gb_s``."""
    return gb_s * 1e9 / model_bytes if model_bytes else 0.0


# -- the typical prompt ----------------------------------------------------------------------------------
def build_index(out: Path) -> Path:
    """The sample corpus's index in ``out`` (what `make demo` builds)."""
    from retriever.index import build_index as build

    build([ROOT / "corpora" / "sample"], out, progress=False)
    return out


def typical_prompt(bot, question: str, k: int = SOURCES, retrieved=None) -> tuple[list[dict], int]:
    """The messages the product sends its LLM for ``question`` (retrieval, budget, focus, formatting: the
    Q&A path's own helpers), and how many sources they hold."""
    from assistant import qa

    retrieved = retrieved or qa._retrieve(bot, question, k, None, None)
    prompt, _ = qa._prompt(bot, bot.llm, retrieved)
    return prompt.messages, prompt.n_sources


def _summary(runs: list[dict], prefix: str = "") -> dict:
    """Medians over the repeats of the per-run figures (keys prefixed with ``prefix``)."""
    keys = ("ttft_s", "decode_tps", "decode_tokens", "total_s", "prompt_evaluated")
    return {prefix + key: round(statistics.median(r[key] for r in runs), 3) for key in keys if key in runs[0]}


# -- llama.cpp through the product backend ---------------------------------------------------------------
def measure_llamacpp(model: str | Path, index: Path, *, question: str = QUESTION, new_tokens: int = 96,
                     threads: int = 0, repeats: int = 1, k: int = SOURCES, prompt_tokens: int | None = None) -> dict:
    """Load ``model`` through the product's ``llamacpp`` backend, build the typical prompt for ``question``
    from ``index`` and time ``LlamaCppBackend.stream`` on it ``repeats`` times (prompt cache reset each time).

    Returns load_s, prompt_tokens, n_sources, model_bytes, rss_before_mb (after retrieval, before the model),
    peak_rss_mb, the median ttft_s / decode_tps / decode_tokens / total_s, every run, the messages (for the
    other runtime) and the answer."""
    from assistant import qa
    from assistant.config import load_settings
    from assistant.llm.llamacpp_backend import physical_cores
    from assistant.service import Assistant

    threads = threads or physical_cores()
    with tempfile.TemporaryDirectory(prefix="llm-speed-") as data:
        bot = Assistant(load_settings(index_dir=index, data_dir=Path(data),
                                      llm={"backend": "llamacpp", "model_path": str(model), "temperature": 0.0,
                                           "max_new_tokens": new_tokens, "threads": threads,
                                           "prompt_tokens": prompt_tokens,  # None: the backend's default
                                           "warm": False}))  # warmed below, under the bench's control
        # Retrieval first (index and embedder loaded), so the RSS growth after it is the model's own.
        retrieved = qa._retrieve(bot, question, k, None, None)
        rss_before = rss_mb()
        started = time.perf_counter()
        llm = bot.llm  # resolves the model file (size + verified stamp) and loads it with llama.cpp
        load_s = time.perf_counter() - started
        messages, n_sources = typical_prompt(bot, question, k, retrieved)
    runs, warm_runs, text = [], [], ""
    for _ in range(repeats):
        run, text = _llamacpp_run(llm, messages, new_tokens)
        runs.append(run)
        warm_run, _ = _llamacpp_run(llm, messages, new_tokens, warm=True)
        warm_runs.append(warm_run)
    return {"backend": "llama.cpp", "model": llm.model, "path": str(llm.path), "threads": threads,
            "model_bytes": llm.path.stat().st_size, "load_s": round(load_s, 3),
            "prompt_tokens": runs[0]["prompt_tokens"], "n_sources": n_sources, **_summary(runs),
            **_summary(warm_runs, "warm_"), "warm_up_s": warm_runs[0]["warm_up_s"], "warm_runs": warm_runs,
            "rss_before_mb": round(rss_before, 1), "peak_rss_mb": round(peak_rss_mb(), 1), "runs": runs,
            "messages": messages, "answer": text}


def _llamacpp_run(llm, messages: list[dict], new_tokens: int, warm: bool = False) -> tuple[dict, str]:
    """One generation, cold (nothing cached) or ``warm`` (the system prompts warmed as at load, then the
    question); token counts are read from the llama.cpp context as each piece arrives (pieces are not
    tokens: text that may start a stop string is held back and sent later)."""
    from assistant.llm.llamacpp_backend import evaluated_tokens
    from assistant.service import warm_prompts

    ctx = llm._llm
    llm.forget_prefixes()  # forget the previous run's prompt, or the prefix cache would skip prompt processing
    warm_up_s = None
    if warm:
        started = time.perf_counter()
        llm.warm(warm_prompts())  # Q&A and Tcl: the context ends on a Tcl prompt, as after another job
        warm_up_s = round(time.perf_counter() - started, 3)
    pieces, marks = [], []
    evaluated = evaluated_tokens(ctx)
    started = time.perf_counter()
    for piece in llm.stream(messages, max_tokens=new_tokens, temperature=0.0):
        if not marks:
            evaluated = evaluated_tokens(ctx) - evaluated  # the prompt tokens llama.cpp processed
        marks.append((time.perf_counter(), ctx.n_tokens))
        pieces.append(piece)
    ended = time.perf_counter()
    if not marks:
        raise RuntimeError("llama.cpp produced no text for the prompt")
    (t_first, n_first), (t_last, n_last) = marks[0], marks[-1]
    # At the first piece the prompt has been evaluated and the first token sampled, not yet evaluated:
    # n_tokens is then exactly the prompt's length; each later token is one evaluation.
    decoded = n_last - n_first
    span = t_last - t_first
    return ({"prompt_tokens": n_first, "ttft_s": round(t_first - started, 3), "decode_tokens": decoded,
             "decode_tps": round(decoded / span, 2) if span > 0 and decoded else 0.0,
             "total_s": round(ended - started, 3), "pieces": len(pieces), "prompt_evaluated": evaluated,
             **({"warm_up_s": warm_up_s} if warm else {})}, "".join(pieces))


# -- transformers on the same GGUF --------------------------------------------------------------------------
class _TokenClock:
    """A transformers streamer that only notes when each new token arrives (generate's first ``put`` is
    the prompt itself)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.tokens = 0
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())
        self.tokens += int(value.numel())

    def end(self) -> None:
        pass


def measure_transformers(model_path: str | Path, messages: list[dict], *, new_tokens: int = 96,
                         threads: int = 0, repeats: int = 1) -> dict:
    """Load the GGUF ``model_path`` with transformers (dequantized to fp32, CPU), and greedily generate up
    to ``new_tokens`` from ``messages`` (the same messages, control tokens defused as the product does)
    ``repeats`` times. Same fields as :func:`measure_llamacpp`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.llm.llamacpp_backend import defuse, physical_cores
    from assistant.llm.models import resolve_model

    threads = threads or physical_cores()
    torch.set_num_threads(threads)
    path = resolve_model(model_path)
    rss_before = rss_mb()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    model.eval()
    load_s = time.perf_counter() - started
    cleaned = [{"role": m["role"], "content": defuse(m["content"])} for m in messages]
    ids = tokenizer.apply_chat_template(cleaned, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    runs, text = [], ""
    for _ in range(repeats):
        clock = _TokenClock()
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=new_tokens, do_sample=False, streamer=clock,
                                 pad_token_id=tokenizer.eos_token_id)
        ended = time.perf_counter()
        span = clock.times[-1] - clock.times[0] if len(clock.times) > 1 else 0.0
        decoded = clock.tokens - 1
        runs.append({"prompt_tokens": int(ids["input_ids"].shape[1]),
                     "ttft_s": round(clock.times[0] - started, 3), "decode_tokens": decoded,
                     "decode_tps": round(decoded / span, 2) if span > 0 and decoded else 0.0,
                     "total_s": round(ended - started, 3)})
        text = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return {"backend": "transformers", "model": path.stem, "path": str(path), "threads": threads,
            "model_bytes": int(weights), "load_s": round(load_s, 3), "prompt_tokens": runs[0]["prompt_tokens"],
            **_summary(runs), "rss_before_mb": round(rss_before, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
            "runs": runs, "answer": text}


# -- the run ------------------------------------------------------------------------------------------------
def _in_subprocess(fn, *args, **kw):
    """``fn(*args, **kw)`` in a fresh interpreter: cold loads, and peak RSS that is this runtime's own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args, **kw).result()


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def print_table(result: dict, console) -> None:
    """The rich table: one column per runtime and llama.cpp ÷ transformers."""
    from rich.table import Table

    lc, tf, bw = result["llamacpp"], result.get("transformers"), result["bandwidth"]
    rows = [("load s", "load_s"), ("prompt tokens", "prompt_tokens"), ("first token s (cold)", "ttft_s"),
            ("first token s (warm: system prompts cached)", "warm_ttft_s"),
            ("prompt tokens evaluated, warm", "warm_prompt_evaluated"), ("warm-up at load s", "warm_up_s"),
            ("decode tokens", "decode_tokens"), ("decode tokens/s", "decode_tps"), ("total s", "total_s"),
            ("weights MB read per token", "weights_mb"), ("decode bound tokens/s", "bound_tps"),
            ("share of bound", "bound_share"), ("peak RSS MB", "peak_rss_mb"),
            ("peak RSS over pre-load MB", "model_rss_mb")]
    table = Table(title=f"LLM speed: {lc['model']} ({lc['threads']} threads, {result['repeats']} repeat(s), "
                        f"medians)")
    table.add_column("")
    table.add_column("llama.cpp", justify="right")
    if tf:
        table.add_column("transformers fp32", justify="right")
        table.add_column("llama.cpp / transformers", justify="right")
    for label, key in rows:
        cells = [label, _fmt(lc.get(key), key)]
        if tf:
            cells += [_fmt(tf.get(key), key), _ratio(lc.get(key), tf.get(key))]
        table.add_row(*cells)
    console.print(table)
    m = result["machine"]
    console.print(f"read bandwidth {bw['gb_s']} GB/s ({bw['threads']} threads; {bw['gb_s_1thread']} GB/s on one) "
                  f"· {m['cpus']} CPUs, {m['physical_cores']} physical cores · load average before "
                  f"{' / '.join(map(str, m['loadavg']))}, after {' / '.join(map(str, result['loadavg_after']))}"
                  f" · OMP_WAIT_POLICY={m['omp_wait_policy'] or 'unset'}")
    if m["loadavg"][0] > 0.5 * m["cpus"]:
        console.print("[yellow]the machine was busy: these timings understate an idle machine[/yellow]")


def _fmt(value, key: str = "") -> str:
    if value is None:
        return "-"
    if key == "bound_share":
        return f"{value:.0%}"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def add_bounds(entry: dict, gb_s: float) -> None:
    """Weights MB, the bandwidth bound on decode and the share of it reached, in ``entry``."""
    entry["weights_mb"] = round(entry["model_bytes"] / MiB, 1)
    entry["model_rss_mb"] = round(entry["peak_rss_mb"] - entry["rss_before_mb"], 1)
    entry["bound_tps"] = round(decode_bound(entry["model_bytes"], gb_s), 2)
    entry["bound_share"] = round(entry["decode_tps"] / entry["bound_tps"], 3) if entry["bound_tps"] else 0.0


def main(argv: list[str] | None = None) -> dict:
    from rich.console import Console

    from assistant.llm.llamacpp_backend import physical_cores

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b", help="a known model name or a GGUF path")
    ap.add_argument("--index", type=Path, help="an index to retrieve from (default: the sample corpus's, built)")
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--new-tokens", type=int, default=96, help="tokens to generate per run (default 96)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (default: one per physical core)")
    ap.add_argument("--repeats", type=int, default=1, help="generations per runtime; medians are reported")
    ap.add_argument("--skip-transformers", action="store_true", help="llama.cpp only (transformers is slow)")
    ap.add_argument("--bandwidth-mb", type=int, default=1024, help="array size for the bandwidth test")
    ap.add_argument("--prompt-tokens", type=int, help="prompt budget (default: the backend's, as shipped)")
    ap.add_argument("--out", type=Path, help="JSON path (default bench/out/llm_speed_<model>.json)")
    args = ap.parse_args(argv)
    console = Console()
    threads = args.threads or physical_cores()

    result: dict = {"model": args.model, "question": args.question, "new_tokens": args.new_tokens,
                    "repeats": args.repeats, "machine": machine()}
    console.print(f"[dim]{result['machine']['cpus']} CPUs, load average "
                  f"{' / '.join(map(str, result['machine']['loadavg']))}[/dim]")
    result["bandwidth"] = read_bandwidth(args.bandwidth_mb * MiB, threads)
    with tempfile.TemporaryDirectory(prefix="llm-speed-index-") as tmp:
        index = args.index or build_index(Path(tmp) / "index")
        console.print(f"[dim]llama.cpp: {args.model} on {threads} threads …[/dim]")
        result["llamacpp"] = _in_subprocess(measure_llamacpp, args.model, index, question=args.question,
                                            new_tokens=args.new_tokens, threads=threads, repeats=args.repeats,
                                            prompt_tokens=args.prompt_tokens)
    if not args.skip_transformers:
        console.print("[dim]transformers: the same GGUF dequantized to fp32 (slow) …[/dim]")
        result["transformers"] = _in_subprocess(measure_transformers, result["llamacpp"]["path"],
                                                result["llamacpp"]["messages"], new_tokens=args.new_tokens,
                                                threads=threads, repeats=args.repeats)
    for name in ("llamacpp", "transformers"):
        if name in result:
            add_bounds(result[name], result["bandwidth"]["gb_s"])
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print_table(result, console)
    out = args.out or RESULTS / f"llm_speed_{Path(str(args.model)).stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"[dim]wrote {out}[/dim]")
    return result


if __name__ == "__main__":
    main()
