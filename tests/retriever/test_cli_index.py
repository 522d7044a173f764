"""`chipassist index` and `chipassist search` through the real CLI (typer's CliRunner, same process)."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from assistant.cli import app
from retriever.index import Index

runner = CliRunner()


def test_index_command_builds_updates_and_writes_the_ingest_report(mini_corpus, tmp_path):
    out = tmp_path / "index"
    res = runner.invoke(app, ["index", str(mini_corpus), "--index", str(out)])
    assert res.exit_code == 0, res.output
    assert "5 added" in res.stdout and "chunks:" in res.stdout and "ingest:" in res.stdout
    assert json.loads((out / "ingest-report.json").read_text())
    assert (out / "ingest-report.md").read_text().strip()
    (mini_corpus / "docs/cru.md").unlink()
    res = runner.invoke(app, ["index", str(mini_corpus), "--index", str(out), "--json"])
    report = json.loads(res.stdout)
    assert report["documents"] == {"added": 0, "changed": 0, "removed": 1, "unchanged": 4}
    assert report["chunks_embedded"] == 0 and report["chunks_total"] == len(Index.open(out))


def test_index_command_bad_input_exits_2(mini_index, tmp_path, tiny_embedder_model):
    corpus, out = mini_index
    res = runner.invoke(app, ["index", str(tmp_path / "nope"), "--index", str(out)])
    assert res.exit_code == 2 and "nope" in res.output
    res = runner.invoke(app, ["index", str(corpus), "--index", str(out), "--model", str(tiny_embedder_model)])
    assert res.exit_code == 2 and "--rebuild" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("faiss: annoy\n")
    res = runner.invoke(app, ["index", str(corpus), "--index", str(out), "--index-config", str(bad)])
    assert res.exit_code == 2 and "faiss" in res.output and "bad.yaml" in res.output
    assert Index.open(out).search("baud", k=1)  # nothing lost


def test_search_command_errors(tmp_path, mini_index_master):
    res = runner.invoke(app, ["search", "baud", "--index", str(tmp_path / "none")])
    assert res.exit_code == 1 and str(tmp_path / "none") in res.output
    res = runner.invoke(app, ["search", "baud", "--index", str(mini_index_master[1]), "--mode", "fuzzy"])
    assert res.exit_code == 2 and "--mode" in res.output
    res = runner.invoke(app, ["search", "baud", "--index", str(mini_index_master[1]), "--rerank"])
    assert res.exit_code == 2 and "reranker" in res.output
