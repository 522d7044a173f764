"""`chipassist index` and `chipassist search`: build/update an index, and query it.

    chipassist index corpora/sample --index .chipassist/index
    chipassist index docs/ rtl/ --index idx --model models/tuned --rebuild --index-config hnsw.yaml
    chipassist search "how is the baud rate set" --index idx -k 5 --user-groups soc-team --json

`index` prints the ingest summary and the build counts and writes the full ingest report to
DIR/ingest-report.{json,md}. Exit codes: 0 ok, 1 no index / nothing found, 2 bad input (missing path,
bad config, a model that differs from the one that built the index).
"""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from assistant.cli.common import ConfigOpt, IndexOpt, console, fail, parse_groups, print_json, settings_from


def register(app: typer.Typer) -> None:
    """Add the `index` and `search` commands to ``app``."""
    app.command("index")(index_cmd)
    app.command("search")(search_cmd)


def index_cmd(
    paths: list[Path] = typer.Argument(..., help="Corpus folders or files; sources are relative to each."),
    index: Path = IndexOpt,
    config: Path = ConfigOpt,
    index_config: Path = typer.Option(None, "--index-config",
                                      help="YAML of IndexConfig fields (faiss, fusion, chunking...)."),
    model: Path = typer.Option(None, "--model",
                               help="Local sentence-transformers folder (default: the index's, else MiniLM)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Re-embed everything (to switch models in place)."),
    json_out: bool = typer.Option(False, "--json", help="Print the build report as one JSON object."),
) -> None:
    """Build or incrementally update an index from corpus folders."""
    from retriever.config import IndexConfig, IndexConfigError
    from retriever.index import build_index
    from retriever.layout import BuildLockedError

    settings = settings_from(index, config)
    try:
        cfg = IndexConfig.from_yaml(index_config) if index_config else None
        report = build_index(paths, settings.index_dir, cfg, model=model, progress=not json_out,
                             rebuild=rebuild)
    except (IndexConfigError, BuildLockedError) as e:
        fail(str(e))
    except (ValueError, OSError) as e:
        # Each error names its own source (the ACL file, the index config field, the model folder, the
        # index folder); a prefix guessing at one of them misled users, so print it as it is.
        fail(str(e) if str(e) else type(e).__name__)
    if json_out:
        print_json(report.to_dict() | {"ingest": _ingest_summary(report.ingest_report)})
        return
    summary = _ingest_summary(report.ingest_report)
    console.print("ingest: " + ", ".join(f"{v} {k}" for k, v in summary.items()))
    d = report.to_dict()["documents"]
    console.print(f"documents: {d['added']} added, {d['changed']} changed, {d['removed']} removed, "
                  f"{d['unchanged']} unchanged; chunks: {report.chunks_embedded} embedded, "
                  f"{report.chunks_total} in the index ({report.seconds:.1f} s, "
                  f"model {report.model.get('name')})")
    for c in report.conflicts:
        console.print(f"[yellow]conflict:[/] {escape(c)}")
    console.print(f"index: {settings.index_dir}  (ingest report: {settings.index_dir / 'ingest-report.md'})")


def _ingest_summary(report) -> dict[str, int]:
    """The ingest report's counts (kept, dropped, duplicates, secrets scrubbed, problems)."""
    summary = report.summary() if report is not None else {}
    return {k: v for k, v in summary.items() if isinstance(v, int)}


def search_cmd(
    query: str = typer.Argument(..., help="The query, in quotes."),
    index: Path = IndexOpt,
    config: Path = ConfigOpt,
    k: int = typer.Option(None, "-k", "--k", min=1, max=100, help="Results (default retrieval.k)."),
    user_groups: str = typer.Option(None, "--user-groups",
                                    help="Comma-separated ACL groups (default: public only)."),
    mode: str = typer.Option(None, "--mode", help="hybrid | dense | bm25 (default retrieval.mode)."),
    rerank: bool = typer.Option(None, "--rerank/--no-rerank", help="Re-score with the cross-encoder."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list of hits."),
) -> None:
    """Search an index; only chunks visible to --user-groups are shown."""
    from assistant.service import Assistant
    from retriever.index import CorruptIndexError, IndexNotFoundError

    if not query.strip():
        fail("the query is empty")
    settings = settings_from(index, config)
    if mode is not None and mode not in ("hybrid", "dense", "bm25"):
        fail(f"--mode must be hybrid, dense or bm25, got {mode!r}")
    if not settings.index_dir.is_dir():
        fail(f"no index at {settings.index_dir}: build one with `chipassist index PATH --index {settings.index_dir}`",
             code=1)
    try:
        # the service applies retrieval.reranker_path and the configured defaults, as for every client
        result = Assistant(settings).run("search", {"query": query, "k": k, "mode": mode, "rerank": rerank},
                                         user_groups=parse_groups(user_groups))
    except (IndexNotFoundError, CorruptIndexError) as e:
        fail(str(e), code=1)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    if json_out:
        print_json([h.model_dump(mode="json") for h in result.hits])
        return
    if not result.hits:
        fail("no results", code=1)
    for h in result.hits:
        snippet = " ".join(h.text.split())[:240]
        where = f"{h.source} {h.location}" if h.location else h.source  # "spec.pdf p. 12"
        console.print(f"[bold]{h.rank}.[/] {escape(where)}  [dim]{escape(h.title)}  "
                      f"score {h.score:.3f}[/]\n   {escape(snippet)}")
