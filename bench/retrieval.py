"""Retrieval benchmark: ChipAssist's index against LangChain's default recipe, on the same files, in one run.

    python bench/retrieval.py [--corpus ../shared/corpora] [--queries bench/queries/shared.jsonl]
                              [--parts langchain,ours,fusion,backends] [--threads 2]

Parts (each system is built in its own subprocess, so its peak memory is its own ru_maxrss):
- ``langchain``: RecursiveCharacterTextSplitter(1000/200) + sentence-transformers embeddings as HuggingFaceEmbeddings computes them (all-MiniLM-L6-v2, local
  folder) + FAISS.from_documents over every file loaded with TextLoader; k-NN search.
- ``ours``: ``retriever.index.build_index`` with the default IndexConfig, searched hybrid / dense / bm25.
- ``fusion``: the same index searched with reciprocal-rank fusion and with weighted fusion.
- ``backends``: the quality cost of each embedder speed option (torch, onnx, onnx-int8, shorter
  max_seq_length): LangChain's 1000/200 chunks of the gold files plus every ``--backends-every``-th other
  file, embedded by each option, searched dense (exact inner product); chunks/s on the same texts.

``--every N`` benchmarks on the gold files plus every N-th other file (copied with their relative paths),
for a shared or slow machine; both systems always get the same files.

Every system is scored by ``retriever.evaluate.evaluate`` (a hit: a top-k chunk from a gold source
containing the gold text, case-insensitive), twice: against the golds written with the questions
(``--queries``) and against the same questions after pooled judging (``--judged``: golds added where a
person judged a system's first result to answer the question; ``bench/judge_pool.py``). Each system's first
result per question is kept in the JSON so the next pool can be judged. Prints rich tables with ratios against
LangChain and the machine's load average (``os.getloadavg``) beside the timings and writes bench/out/retrieval.json and bench/out/retrieval.png (hit@k curves). Takes many minutes
on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

OUT = ROOT / "bench" / "out"
CORPUS = ROOT.parent / "shared" / "corpora"
QUERIES = ROOT / "bench" / "queries" / "shared.jsonl"
JUDGED = ROOT / "bench" / "queries" / "shared-judged.jsonl"
FUSION_SETTINGS = {  # searched on one built index: no re-embedding needed
    "rrf": {"fusion": "rrf"},
    "weighted 0.5/0.5": {"fusion": "weighted", "dense_weight": 0.5, "bm25_weight": 0.5},
    "weighted 0.7/0.3": {"fusion": "weighted", "dense_weight": 0.7, "bm25_weight": 0.3},
    "weighted 0.3/0.7": {"fusion": "weighted", "dense_weight": 0.3, "bm25_weight": 0.7},
    "rrf, 100 candidates": {"fusion": "rrf", "candidates": 100},
}
BACKEND_OPTIONS = [("torch", None), ("onnx", None), ("onnx-int8", None), ("onnx-int8", 128)]


# ---------------------------------------------------------------- shared helpers (run inside workers)

def corpus_files(root: Path) -> list[Path]:
    """Every regular file of the corpus, in a stable order (the same set both systems are given)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def gold_sources(*queries_paths: Path | None) -> set[str]:
    """Every gold source of the question files that exist (the strict and the judged golds)."""
    from retriever.evaluate import load_queries

    return {g.source for path in queries_paths if path and Path(path).is_file()
            for q in load_queries(path) for g in q.gold}


def subset_files(root: Path, gold: set[str], every: int) -> list[Path]:
    """All gold files plus every ``every``-th other file (every=1: the whole corpus)."""
    return [p for i, p in enumerate(corpus_files(root)) if i % every == 0 or p.relative_to(root).as_posix() in gold]


def copy_subset(root: Path, files: list[Path], dst: Path) -> Path:
    """Materialise a file subset under ``dst`` with the same relative paths, so sources stay comparable."""
    import shutil

    for p in files:
        target = dst / p.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target)
    return dst


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def report_dict(report, **extra) -> dict:
    return {**report.to_dict(), "ranks": report.ranks, **extra}


def first_results(searchable, queries, **search_kw) -> dict[str, dict]:
    """{question id: its first result's source, title and text}: what bench/judge_pool.py pools for judging."""
    return {q.id: {"source": h.chunk.source, "title": h.chunk.title, "text": h.chunk.text}
            for q in queries for h in searchable.search(q.query, k=1, **search_kw)[:1]}


def scored(searchable, args, modes: tuple[str | None, ...]) -> dict:
    """``modes``, ``judged_modes`` (the same searches against the pooled-judgment golds, when that file
    exists) and ``top1`` (each query's first result, the pool for bench/judge_pool.py) of one system."""
    from retriever.evaluate import evaluate, load_queries

    queries = load_queries(args.queries)
    judged = load_queries(args.judged) if args.judged and Path(args.judged).is_file() else None
    out: dict = {"modes": {}, "judged_modes": {}, "top1": {}}
    for mode in modes:
        kw = {"mode": mode} if mode else {}
        name = mode or "dense"
        out["modes"][name] = report_dict(evaluate(searchable, queries, **kw))
        # the machine's load while those queries ran (1, 5, 15 min): latency on a shared machine means little
        # without it (bench/README.md compares p50s measured under different loads)
        out["modes"][name]["load"] = list(os.getloadavg())
        if judged:
            out["judged_modes"][name] = report_dict(evaluate(searchable, judged, **kw))
        out["top1"][name] = first_results(searchable, queries, **kw)
    return out


class LangChainSearch:
    """Adapts a LangChain vector store to ``evaluate``'s ``search(query, k)`` -> SearchHits."""

    def __init__(self, store) -> None:
        self.store = store

    def search(self, query: str, k: int = 10, **_):
        from corpora.types import Chunk
        from retriever.types import SearchHit

        pairs = self.store.similarity_search_with_score(query, k=k)
        return [SearchHit(Chunk(id=f"{d.metadata['source']}#{i}", source=d.metadata["source"], title="",
                                text=d.page_content, doc_type="text", kind="text"), score=-float(s), rank=i)
                for i, (d, s) in enumerate(pairs, 1)]


def langchain_chunks(root: Path, files: list[Path]):
    from langchain_community.document_loaders import TextLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = []
    for p in files:
        try:
            for d in TextLoader(str(p), encoding="utf-8").load():
                d.metadata["source"] = p.relative_to(root).as_posix()
                docs.append(d)
        except Exception as e:  # TextLoader raises RuntimeError on undecodable files: LangChain would skip them
            print(f"langchain: skipped {p}: {e}", file=sys.stderr)
    return RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)


# ---------------------------------------------------------------- workers (one system per process)

def sentence_transformer_embeddings(model: str):
    """LangChain ``Embeddings`` over sentence-transformers, as ``langchain_huggingface.HuggingFaceEmbeddings``
    does it (``encode``, no normalisation, batch 32). Written here because langchain-huggingface pins
    huggingface_hub < 2, which would downgrade the hub library under transformers 5 in the project's venv."""
    from langchain_core.embeddings import Embeddings
    from sentence_transformers import SentenceTransformer

    class SentenceTransformerEmbeddings(Embeddings):
        def __init__(self) -> None:
            self.model = SentenceTransformer(model, device="cpu")

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.model.encode(texts, batch_size=32, show_progress_bar=True).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.model.encode([text], show_progress_bar=False)[0].tolist()

    return SentenceTransformerEmbeddings()


def worker_langchain(args) -> dict:
    from langchain_community.vectorstores import FAISS

    from retriever.embedder import default_model_path

    root = Path(args.corpus)
    t0 = time.perf_counter()
    chunks = langchain_chunks(root, corpus_files(root))
    emb = sentence_transformer_embeddings(str(default_model_path()))
    store = FAISS.from_documents(chunks, emb)
    build_s = time.perf_counter() - t0
    build_rss = peak_rss_mb()
    return {"build_s": build_s, "chunks": len(chunks), "chunks_per_s": len(chunks) / build_s,
            "text_mb": sum(len(c.page_content) for c in chunks) / 1e6, "peak_rss_mb": build_rss,
            **scored(LangChainSearch(store), args, (None,))}


def worker_ours(args) -> dict:
    from retriever.index import Index, build_index

    index_dir = Path(args.index_dir)
    t0 = time.perf_counter()
    build_index([Path(args.corpus)], index_dir, progress=True)
    build_s = time.perf_counter() - t0
    build_rss = peak_rss_mb()
    index = Index.open(index_dir)
    chunks = list(index.chunks())
    return {"build_s": build_s, "chunks": len(chunks), "chunks_per_s": len(chunks) / build_s,
            "text_mb": sum(len(c.text) for c in chunks) / 1e6, "peak_rss_mb": build_rss,
            "info": _jsonable(getattr(index, "info", {})), **scored(index, args, ("hybrid", "dense", "bm25"))}


def worker_fusion(args) -> dict:
    """Search one built index with each fusion method (config override at open time)."""
    from retriever.evaluate import evaluate, load_queries
    from retriever.index import Index

    queries = load_queries(args.queries)
    index = Index.open(Path(args.index_dir))
    base = index.config
    out = {}
    for label, update in FUSION_SETTINGS.items():
        index.config = base.model_copy(update=update)  # Index.open documents this override
        out[label] = report_dict(evaluate(index, queries, mode="hybrid"), settings=update)
    return {"modes": out}


def worker_backends(args) -> dict:
    """Quality and speed of each embedder option on one fixed chunk set (dense, exact inner product)."""
    import faiss
    import numpy as np

    from corpora.types import Chunk
    from retriever.embedder import Embedder
    from retriever.evaluate import evaluate, load_queries
    from retriever.types import SearchHit

    root = Path(args.corpus)
    queries = load_queries(args.queries)
    files = subset_files(root, gold_sources(args.queries, args.judged), args.backends_every)
    chunks = langchain_chunks(root, files)
    texts = [c.page_content for c in chunks]

    class DenseSearch:
        def __init__(self, embedder: Embedder, vecs: np.ndarray) -> None:
            self.embedder, self.index = embedder, faiss.IndexFlatIP(vecs.shape[1])
            self.index.add(vecs)

        def search(self, query: str, k: int = 10, **_):
            scores, ids = self.index.search(self.embedder.embed_query(query)[None, :], k)
            return [SearchHit(Chunk(id=str(i), source=chunks[i].metadata["source"], title="",
                                    text=texts[i], doc_type="text", kind="text"), score=float(s), rank=r)
                    for r, (s, i) in enumerate(zip(scores[0], ids[0]), 1)]

    results, reference = {}, None
    with tempfile.TemporaryDirectory() as cache:
        for backend, max_len in BACKEND_OPTIONS:
            name = backend + (f" max_seq_length={max_len}" if max_len else "")
            embedder = Embedder(backend=backend, max_seq_length=max_len, cache_dir=cache)
            embedder.embed_documents(texts[:32])  # warm-up (and export, not timed)
            t0 = time.perf_counter()
            vecs = embedder.embed_documents(texts, progress=True)
            seconds = time.perf_counter() - t0
            reference = vecs if reference is None else reference
            cosine = (vecs * reference).sum(axis=1)
            report = evaluate(DenseSearch(embedder, vecs), queries)
            results[name] = report_dict(report, chunks_per_s=len(texts) / seconds,
                                        cos_to_torch_mean=float(cosine.mean()),
                                        cos_to_torch_min=float(cosine.min()))
            print(f"{name}: {len(texts) / seconds:.1f} chunks/s", file=sys.stderr)
    return {"chunks": len(texts), "files": len(files), "options": results}


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


WORKERS = {"langchain": worker_langchain, "ours": worker_ours, "fusion": worker_fusion,
           "backends": worker_backends}


# ---------------------------------------------------------------- orchestration and reporting

def run_worker(part: str, args, index_dir: Path) -> dict:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    cmd = [sys.executable, __file__, "--worker", part, "--corpus", str(args.corpus), "--queries",
           str(args.queries), "--judged", str(args.judged), "--index-dir", str(index_dir), "--result", str(out),
           "--backends-every", str(args.backends_every)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    print(f"[bench] {part}: {' '.join(cmd[1:3])} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    load_start = list(os.getloadavg())
    subprocess.run(cmd, check=True, env=env)
    result = json.loads(out.read_text())
    result["wall_s"] = time.perf_counter() - t0
    result["load"] = {"start": load_start, "end": list(os.getloadavg())}
    out.unlink()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--queries", type=Path, default=QUERIES)
    ap.add_argument("--judged", type=Path, default=JUDGED,
                    help="the same questions with golds added by pooled judging (scored too when it exists)")
    ap.add_argument("--parts", default="langchain,ours,fusion,backends")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--every", type=int, default=1,
                    help="index the gold files plus every N-th other file (1: the whole corpus)")
    ap.add_argument("--backends-every", type=int, default=2,
                    help="embedder-options part: gold files plus every N-th other file of the benchmark corpus")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.result.write_text(json.dumps(WORKERS[args.worker](args)))
        return
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus}")
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(WORKERS)
    if unknown:
        sys.exit(f"unknown parts: {', '.join(sorted(unknown))} (choose from {', '.join(WORKERS)})")
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {"corpus": str(args.corpus), "queries": str(args.queries),
                     "judged": str(args.judged) if args.judged.is_file() else None, "threads": args.threads,
                     "every": args.every, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="chipassist-bench-") as tmp:
        index_dir = Path(tmp) / "index"
        if args.every > 1:
            files = subset_files(args.corpus, gold_sources(args.queries, args.judged), args.every)
            args.corpus = copy_subset(args.corpus, files, Path(tmp) / "corpus")
            results["files"] = len(files)
            print(f"[bench] corpus subset: {len(files)} files (gold + every {args.every}th)", file=sys.stderr)
        for part in parts:
            if part == "fusion" and not index_dir.is_dir():
                results["ours"] = run_worker("ours", args, index_dir)
            results[part] = run_worker(part, args, index_dir)
    (OUT / "retrieval.json").write_text(json.dumps(results, indent=2))
    from bench.retrieval_report import plot, print_tables

    print_tables(results)
    plot(results, OUT / "retrieval.png")
    print(f"wrote {OUT / 'retrieval.json'} and {OUT / 'retrieval.png'}")


if __name__ == "__main__":
    main()
