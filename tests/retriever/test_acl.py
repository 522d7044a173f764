"""A user outside a group never sees a chunk restricted to it: through the API, the adapter and the CLI."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from retriever.config import IndexConfig
from retriever.index import Index, build_index
from retriever.langchain import ChipRetriever

from .conftest import MINI, RESTRICTED, SECRET, write_corpus

QUERY = f"tapeout plan of project {SECRET}"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_api_hides_restricted_chunks(mini_index_master, mode):
    index = Index.open(mini_index_master[1])
    for groups in (None, set(), {"other-team"}, "other-team"):
        hits = index.search(QUERY, k=50, user_groups=groups, mode=mode)
        assert all(not h.chunk.source.startswith("docs/restricted/") for h in hits), (groups, mode)
        assert all("public" in h.chunk.acl for h in hits)
    hits = index.search(QUERY, k=3, user_groups={RESTRICTED, "x"}, mode=mode)
    assert hits[0].chunk.source == "docs/restricted/tapeout.md"


def test_over_fetch_still_returns_k_visible_hits(tmp_path):
    """Forty restricted chunks outrank every public one; a public user still gets k public hits."""
    files = {f"docs/restricted/secret{i}.md": f"# Secret {i}\n\nOrion mask set {i} orion orion.\n"
             for i in range(40)}
    files |= {f"docs/public{i}.md": f"# Public {i}\n\nThe orion test chip {i} is public.\n" for i in range(6)}
    corpus = write_corpus(tmp_path / "corpus", files)
    build_index([corpus], tmp_path / "index", IndexConfig(candidates=5), progress=False)
    index = Index.open(tmp_path / "index")
    for mode in ("hybrid", "dense", "bm25"):
        hits = index.search("orion mask set", k=5, mode=mode)
        assert len(hits) == 5, mode
        assert all(h.chunk.source.startswith("docs/public") for h in hits), mode


def test_langchain_adapter_returns_documents_and_honours_acl(mini_index_master):
    from langchain_core.documents import Document

    index = Index.open(mini_index_master[1])
    docs = ChipRetriever(index=index, k=3).invoke("How is the UART baud rate set?")
    assert docs and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.metadata["source"] == "docs/uart.md" and top.metadata["rank"] == 1
    assert top.id == top.metadata["id"] and "fused" in top.metadata["scores"] and top.page_content
    assert all(d.metadata["source"] != "docs/restricted/tapeout.md"
               for d in ChipRetriever(index=index, k=10, mode="bm25").invoke(QUERY))
    team = ChipRetriever(index=index, k=1, mode="bm25", user_groups=[RESTRICTED]).invoke(QUERY)
    assert team[0].metadata["source"] == "docs/restricted/tapeout.md"


def test_cli_search_hides_restricted_chunks(mini_index_master):
    runner = CliRunner()
    out = str(mini_index_master[1])
    for extra in ([], ["--user-groups", "other-team"]):
        for mode in ("hybrid", "bm25"):
            args = ["search", QUERY, "--index", out, "-k", "20", "--json", "--mode", mode, *extra]
            res = runner.invoke(app, args)
            assert res.exit_code == 0, res.output
            hits = json.loads(res.stdout)
            assert all(not h["source"].startswith("docs/restricted/") for h in hits)
            assert hits or mode == "bm25"  # no public chunk shares a word with the query
            assert SECRET not in res.stdout
    res = runner.invoke(app, ["search", QUERY, "--index", out, "-k", "2", "--json", "--mode", "bm25",
                              "--user-groups", f"x,{RESTRICTED}"])
    assert json.loads(res.stdout)[0]["source"] == "docs/restricted/tapeout.md"
    res = runner.invoke(app, ["search", QUERY, "--index", out, "-k", "20"])  # the formatted output too
    assert res.exit_code == 0 and "uart" in res.stdout.lower() and SECRET not in res.stdout


def _sources(index_dir, query: str, groups=None) -> set[str]:
    index = Index.open(index_dir)
    try:
        return {h.chunk.source for h in index.search(query, k=20, user_groups=groups, mode="bm25")}
    finally:
        index.close()


def test_acl_change_reindexes_the_document(mini_corpus, tmp_path):
    """Change detection hashed the text only: a document made restricted after indexing stayed public."""
    out = tmp_path / "index"
    build_index([mini_corpus], out, progress=False)
    assert "docs/dma.md" in _sources(out, "DMA descriptors linked list")
    (mini_corpus / "chipassist-acl.yaml").write_text(
        f'rules:\n  - glob: "docs/restricted/**"\n    groups: ["{RESTRICTED}"]\n'
        f'  - glob: "docs/dma.md"\n    groups: ["{RESTRICTED}"]\n', encoding="utf-8")
    report = build_index([mini_corpus], out, progress=False)
    assert "docs/dma.md" not in _sources(out, "DMA descriptors linked list")
    assert "docs/dma.md" in _sources(out, "DMA descriptors linked list", {RESTRICTED})
    assert (report.changed, report.unchanged, report.acl_changed, report.chunks_embedded) == (1, len(MINI) - 1, 1, 0)
    assert build_index([mini_corpus], out, progress=False).unchanged == len(MINI)


def test_indexing_a_subfolder_or_file_keeps_the_parents_acl(mini_corpus, tmp_path):
    for i, root in enumerate([mini_corpus / "docs", mini_corpus / "docs" / "restricted" / "tapeout.md"]):
        out = tmp_path / f"index{i}"
        build_index([root], out, progress=False)
        assert not {s for s in _sources(out, QUERY) if "tapeout" in s}, root
        assert {s for s in _sources(out, QUERY, {RESTRICTED}) if "tapeout" in s}, root


def test_symlinks_never_leak_host_files_or_restricted_text(mini_corpus, tmp_path):
    (mini_corpus / "docs" / "passwd.txt").symlink_to("/etc/passwd")
    (mini_corpus / "docs" / "a-plan.md").symlink_to("restricted/tapeout.md")  # public path, restricted target
    out = tmp_path / "index"
    build_index([mini_corpus], out, progress=False)
    assert not _sources(out, "root bin bash nologin daemon", {RESTRICTED, "x"})
    assert not {s for s in _sources(out, QUERY) if "tapeout" in s or "plan" in s}
    assert {s for s in _sources(out, QUERY, {RESTRICTED}) if "tapeout" in s or "plan" in s}
