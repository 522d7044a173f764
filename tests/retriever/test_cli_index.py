"""`chipassist index` and `chipassist search` through the real CLI (typer's CliRunner, same process)."""
from __future__ import annotations

import json
import os
import re

from typer.testing import CliRunner

from assistant.cli import app
from retriever.index import Index
from tests.retriever.conftest import write_corpus

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


def _nest(root, depth: int, leaf: str, text: bytes) -> None:
    """``depth`` folders named d inside each other under ``root``, a file at the bottom (made by descriptor,
    since the full path soon passes what path-based calls accept)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        out = os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, text)
        os.close(out)
    finally:
        os.close(fd)


def _unnest(root) -> None:
    """Remove a deep chain of d/ folders level by level (shutil.rmtree recurses once per level)."""
    cur, n = root / "d", 0
    while cur.exists():
        for name in os.listdir(cur):
            if name != "d":
                os.unlink(cur / name)
        child, cur_next = cur / "d", root / f"d{n}"
        if child.exists():
            os.rename(child, cur_next)
        os.rmdir(cur)
        cur, n = cur_next, n + 1


def test_hostile_names_and_deep_folders_are_dropped_per_file_and_the_build_completes(tmp_path, tiny_embedder_model):
    corpus, out = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, {"docs/uart.md": "# UART\n\nThe baud divisor is the clock over sixteen times the baud.\n"})
    with open(os.path.join(os.fsencode(corpus / "docs"), b"caf\xe9-\xff.md"), "wb") as f:  # Latin-1 bytes in a name
        f.write(b"# Cafe\n\nA file whose name is not UTF-8.\n")
    (corpus / "docs" / "two\nlines | pipe.md").write_text("# Odd name\n\nA newline and a pipe in the name.\n")
    _nest(corpus, 1100, "deep.md", b"# Deep\n\nA file under 1,100 folders.\n")
    try:
        res = runner.invoke(app, ["index", str(corpus), "--index", str(out), "--model", str(tiny_embedder_model),
                                  "--json"])
    finally:
        _unnest(corpus)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["documents"]["added"] == 2  # uart.md and the odd (but valid UTF-8) name
    dropped = {d["path"]: d["reason"] for d in json.loads((out / "ingest-report.json").read_text())["dropped"]}
    assert "not valid UTF-8" in dropped["docs/caf\\xe9-\\xff.md"]
    assert any(p.startswith("d/d/d/") and "nested deeper than" in r for p, r in dropped.items())
    md = (out / "ingest-report.md").read_text(encoding="utf-8")
    kept_rows = [line for line in md.split("## Kept")[1].splitlines() if line.startswith("| `")]
    assert len(kept_rows) == 2 and any("two\\nlines \\| pipe.md" in r for r in kept_rows)  # one row, escaped
    assert all(len(re.split(r"(?<!\\)\|", line)) == 7 for line in kept_rows)  # five cells, no more


def _flat(res) -> str:
    """The command's output without whitespace: rich wraps long lines at spaces and inside paths."""
    return "".join(res.output.split())


def test_build_errors_name_their_real_source(mini_index, tmp_path):
    corpus, out = mini_index
    (corpus / "chipassist-acl.yaml").write_text("rules:\n  - glob: [not, a, string]\n    groups: x\n")
    res = runner.invoke(app, ["index", str(corpus), "--index", str(out)])
    assert res.exit_code == 2 and "chipassist-acl.yaml" in _flat(res) and "cannotembed" not in _flat(res)
    (corpus / "chipassist-acl.yaml").unlink()
    cfg = tmp_path / "idx.yaml"
    cfg.write_text("chunking: {max_chars: 50}\n")
    res = runner.invoke(app, ["index", str(corpus), "--index", str(out), "--index-config", str(cfg)])
    assert res.exit_code == 2 and "cannotembed" not in _flat(res)
    assert "idx.yaml" in _flat(res) and "chunking.max_chars" in _flat(res)
    cfg.write_bytes("faiss: flat  # d\xe9faut\n".encode("latin-1"))
    res = runner.invoke(app, ["index", str(corpus), "--index", str(out), "--index-config", str(cfg)])
    assert res.exit_code == 2 and "idx.yaml" in _flat(res) and "UTF-8" in _flat(res)
    assert Index.open(out).search("baud", k=1)  # nothing lost


def test_a_settings_file_that_is_not_utf8_is_a_clear_error(mini_index_master, tmp_path):
    cfg = tmp_path / "settings.yaml"
    cfg.write_bytes("retrieval:\n  k: 3  # r\xe9sultats\n".encode("latin-1"))
    for args in (["search", "baud", "--index", str(mini_index_master[1])], ["index", str(mini_index_master[0])]):
        res = runner.invoke(app, [*args, "--config", str(cfg)])
        assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
        assert "settings.yaml" in _flat(res) and "notUTF-8" in _flat(res) and "byte" in _flat(res)
