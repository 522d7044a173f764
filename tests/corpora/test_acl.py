"""ACLs at ingest: manifests of every folder above a file, anchored globs, warnings, symlinks and dedup."""
from __future__ import annotations

import json
import logging
import os

from corpora.ingest import ingest

SECRET_TEXT = "# Orion tapeout\n\nThe Orion mask set ships in week 42; only the silicon team may know.\n"
MANIFEST = "chipassist-acl.yaml"


def _write(root, files):
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(data)
    return root


def _acls(roots, **kw):
    result = ingest(roots, progress=False, **kw)
    return {d.source: d.acl for d in result.documents}, result.report


def test_the_access_rule_and_the_strictest_combination():
    from corpora.types import strictest, visible

    assert visible(["public"], None) and visible(["soc"], {"soc", "x"}) and visible(["soc"], "soc")
    assert not visible(["soc"], None) and not visible(["soc"], set()) and not visible([], {"soc"})
    assert strictest(["public"], ["public"]) == ["public"]
    assert strictest(["public"], ["soc"]) == ["soc"] and strictest(["a", "b"], ["b", "c"]) == ["b"]
    assert strictest(["a"], ["b"]) == []  # nobody may see both: visible to no one


def test_reader_groups_are_normalised_once_for_every_caller():
    """One group name or many, None or empty meaning public only: the rule and the search path (assistant.qa)
    read a reader's groups through the same function."""
    import assistant.qa
    from corpora.types import reader_groups, visible

    assert reader_groups("silicon-team") == {"silicon-team"} and reader_groups(["a", "a", "b"]) == {"a", "b"}
    assert reader_groups(None) is reader_groups("") is reader_groups([]) is None
    assert visible(["silicon-team"], "silicon-team") and not visible(["silicon-team"], "silicon")
    assert assistant.qa.reader_groups is reader_groups and not hasattr(assistant.qa, "_groups")


def test_subfolder_and_single_file_honour_the_manifests_above_them(tmp_path):
    """Indexing docs/ or one file of an ACL'd corpus used to publish the restricted files silently."""
    root = _write(tmp_path / "corpus", {
        "docs/secret/orion.md": SECRET_TEXT, "docs/uart.md": "# UART\n\nThe baud divisor register.\n",
        MANIFEST: "rules:\n  - glob: 'docs/secret/**'\n    groups: [silicon-team]\n"})
    whole, _ = _acls([root])
    sub, _ = _acls([root / "docs"])
    one, _ = _acls([root / "docs" / "secret" / "orion.md"])
    assert whole["docs/secret/orion.md"] == sub["secret/orion.md"] == one["orion.md"] == ["silicon-team"]
    assert sub["uart.md"] == ["public"]


def test_nested_manifests_narrow_but_never_widen(tmp_path):
    root = _write(tmp_path / "corpus", {
        "a/x.md": "# x\n\nalpha text\n", "a/y.md": "# y\n\nbeta text\n", "a/open.md": "# o\n\ngamma text\n",
        MANIFEST: "rules:\n  - glob: 'a/**'\n    groups: [team-a, team-b]\n",
        f"a/{MANIFEST}": "rules:\n  - glob: 'x.md'\n    groups: [team-b]\n  - glob: 'open.md'\n    groups: [public]\n"})
    for roots, prefix in (([root], "a/"), ([root / "a"], "")):
        acl, _ = _acls(roots)
        assert acl[f"{prefix}x.md"] == ["team-b"]  # the nearer manifest narrows
        assert acl[f"{prefix}y.md"] == ["team-a", "team-b"]
        assert acl[f"{prefix}open.md"] == ["team-a", "team-b"]  # ... but cannot make a restricted file public


def test_dot_slash_globs_match_and_rules_matching_nothing_are_reported(tmp_path, caplog):
    root = _write(tmp_path / "corpus", {
        "Docs/Secret/plan.md": SECRET_TEXT, "Docs/guide.md": "# Guide\n\nPublic guide text.\n",
        MANIFEST: "rules:\n  - glob: './Docs/Secret/**'\n    groups: [silicon-team]\n"
                  "  - glob: 'docs/typo/**'\n    groups: [silicon-team]\n"
                  "  - glob: 'Docs/Guide'\n    groups: [x]\n"})
    with caplog.at_level(logging.WARNING, logger="chipassist.acl"):
        acl, report = _acls([root])
    assert acl["Docs/Secret/plan.md"] == ["silicon-team"] and acl["Docs/guide.md"] == ["public"]
    warned = [p for p in report.problems if "matches no file" in p]
    assert len(warned) == 2 and "docs/typo/**" in warned[0] and "Docs/Guide" in warned[1]
    assert all(MANIFEST in w for w in warned) and "docs/typo" in caplog.text
    assert "matches no file" in report.to_markdown()


def test_symlink_out_of_the_root_is_not_followed(tmp_path):
    outside = _write(tmp_path / "elsewhere", {"passwd.txt": "root:x:0:0:root:/root:/bin/bash\n"})
    root = _write(tmp_path / "corpus", {"ok.md": "# ok\n\nreadable text\n"})
    os.symlink("/etc/passwd", root / "x.txt")
    os.symlink(outside / "passwd.txt", root / "y.txt")
    os.symlink("../elsewhere/passwd.txt", root / "z.txt")
    acl, report = _acls([root])
    assert list(acl) == ["ok.md"]
    reasons = {d.path: d.reason for d in report.dropped}
    assert all("outside the corpus root" in reasons[n] for n in ("x.txt", "y.txt", "z.txt"))
    _, single = _acls([root / "x.txt"])  # named directly: still not followed out of its folder
    assert "outside the corpus root" in single.dropped[0].reason


def test_symlink_gets_the_strictest_acl_and_dedup_keeps_other_visibilities(tmp_path):
    """A public link to a restricted file used to publish it (and the restricted original was the dropped dup)."""
    root = _write(tmp_path / "corpus", {
        "restricted/orion.md": SECRET_TEXT, "public/guide.md": "# Guide\n\n" + "Public guide text. " * 40 + "\n",
        "public/copy-of-orion.md": SECRET_TEXT,
        MANIFEST: "rules:\n  - glob: 'restricted/**'\n    groups: [silicon-team]\n"})
    os.symlink("../restricted/orion.md", root / "public" / "a-link.md")  # sorts before the original
    os.symlink("../public/guide.md", root / "restricted" / "guide-link.md")
    acl, report = _acls([root])
    # link and original have the same (strictest) visibility, so one is kept as the other's duplicate
    assert acl["public/a-link.md"] == ["silicon-team"] and "restricted/orion.md" not in acl
    assert {(d.source, d.duplicate_of) for d in report.duplicates} == {("restricted/orion.md", "public/a-link.md")}
    # a restricted link to a public file is restricted; the public original stays public (other visibility)
    assert acl["restricted/guide-link.md"] == ["silicon-team"] and acl["public/guide.md"] == ["public"]
    # a real copy with other visibility is kept: dropping either would change who can read the text
    assert acl["public/copy-of-orion.md"] == ["public"]


def test_bug_record_acl_field_combines_with_the_file_acl(tmp_path):
    bugs = [{"id": "B-1", "title": "public bug", "status": "open", "component": "dma"},
            {"id": "B-2", "title": "secret bug", "status": "open", "component": "dma", "acl": ["silicon-team"]},
            {"id": "B-3", "title": "grouped bug", "status": "open", "component": "dma", "groups": "a, silicon-team"}]
    root = _write(tmp_path / "corpus", {"bugs/export.jsonl": "\n".join(json.dumps(b) for b in bugs) + "\n"})
    acl, _ = _acls([root])
    assert acl == {"bugs/export.jsonl#B-1": ["public"], "bugs/export.jsonl#B-2": ["silicon-team"],
                   "bugs/export.jsonl#B-3": ["a", "silicon-team"]}
    (root / MANIFEST).write_text("rules:\n  - glob: 'bugs/*'\n    groups: [silicon-team, b]\n")
    acl, _ = _acls([root])
    assert acl["bugs/export.jsonl#B-1"] == ["b", "silicon-team"] and acl["bugs/export.jsonl#B-3"] == ["silicon-team"]
