"""Access-control groups for corpus files, from manifests in the corpus folders (`chipassist-acl.yaml`).

    rules:
      - glob: "docs/restricted/**"
        groups: [silicon-team]

A manifest governs its own folder and everything below it. Globs are matched against the POSIX path
relative to the manifest's folder (`*` also crosses folders, as in fnmatch; a leading ``./`` or ``/`` is
ignored), and a glob that names a folder covers everything in it. Within one manifest the LAST matching
rule wins, as in .gitignore, so a broad rule can be narrowed below it; files that match no rule get the
manifest's ``default`` (public unless set).

Every manifest above a file applies to it, from its own folder up to the file-system root (`AclTree`): the
nearest one and each ancestor's. They combine by ``corpora.types.strictest``: a nested manifest can narrow
what its parents allow but never widen it, and a file is therefore equally protected whichever folder (or
single file) is indexed. A symlink gets the strictest ACL of the link's path and its target's path.
"""
from __future__ import annotations

import fnmatch
import logging
import os
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator

from corpora.config_io import load_yaml_model
from corpora.types import PUBLIC, strictest

MANIFEST = "chipassist-acl.yaml"
log = logging.getLogger("chipassist.acl")


class AclRule(BaseModel):
    """One manifest rule: files matching ``glob`` (relative to the manifest's folder) are visible to ``groups``."""
    model_config = ConfigDict(extra="forbid")
    glob: str = Field(min_length=1)
    groups: list[str] = Field(min_length=1)

    @field_validator("glob")
    @classmethod
    def _anchor(cls, glob: str) -> str:
        """``./docs/x/**`` and ``/docs/x/**`` mean ``docs/x/**``: paths are matched relative to the manifest."""
        while glob.startswith(("./", "/")):
            glob = glob[1:] if glob.startswith("/") else glob[2:]
        if not glob.strip("/"):
            raise ValueError("glob names no file (empty after removing a leading ./ or /)")
        return glob


class AclManifest(BaseModel):
    """One `chipassist-acl.yaml`: rules for the files under its folder."""

    model_config = ConfigDict(extra="forbid")
    rules: list[AclRule] = Field(default_factory=list)
    default: list[str] = Field(default_factory=lambda: [PUBLIC])

    @classmethod
    def load(cls, root: Path) -> "AclManifest":
        """Read `root/chipassist-acl.yaml`; no file means everything is public. Errors name the file."""
        path = Path(root) / MANIFEST
        if not path.is_file():
            return cls()
        return load_yaml_model(path, cls, what="ACL manifest")  # a ConfigError (ValueError) naming the file

    def matching_rule(self, source: str) -> int | None:
        """Index of the last rule matching ``source`` (POSIX, relative to the manifest's folder), or None."""
        folders = [str(p) for p in PurePosixPath(source).parents][:-1]  # "a/b/c.md" -> "a/b", "a"
        found = None
        for n, rule in enumerate(self.rules):
            folder_glob = rule.glob.rstrip("/")
            if fnmatch.fnmatchcase(source, rule.glob) or any(
                    fnmatch.fnmatchcase(f, folder_glob) or fnmatch.fnmatchcase(f, folder_glob.rstrip("/*"))
                    for f in folders):
                found = n
        return found

    def groups_for(self, source: str) -> list[str]:
        """Groups allowed to see ``source`` (relative to the manifest's folder) by this manifest alone."""
        n = self.matching_rule(source)
        return list(self.default if n is None else self.rules[n].groups)


class AclTree:
    """Every manifest on the way from a file up to the file-system root, read once per folder and combined.

    Also remembers which rules matched a file, so `unmatched` can warn about rules that match nothing
    (a mistyped glob otherwise fails open: the files it meant stay public).
    """

    def __init__(self) -> None:
        self._manifests: dict[Path, AclManifest | None] = {}
        self._hits: set[tuple[Path, int]] = set()
        self._cache: dict[str, list[str]] = {}

    def manifest(self, folder: Path) -> AclManifest | None:
        """The manifest in ``folder`` (absolute), or None; an invalid one raises ValueError naming the file."""
        if folder not in self._manifests:
            self._manifests[folder] = AclManifest.load(folder) if (folder / MANIFEST).is_file() else None
        return self._manifests[folder]

    def _groups_at(self, path: Path) -> list[str]:
        """Strictest ACL of every manifest above ``path`` (absolute), each applied relative to its folder."""
        acls = []
        for folder in path.parents:
            m = self.manifest(folder)
            if m is None:
                continue
            rel = path.relative_to(folder).as_posix()
            n = m.matching_rule(rel)
            if n is not None:
                self._hits.add((folder, n))
            acls.append(m.groups_for(rel))
        return strictest(*acls)

    def groups_for_path(self, path: str | Path) -> list[str]:
        """ACL of the file at ``path``: its own manifests, and for a symlink its target's too (strictest)."""
        lexical = Path(os.path.abspath(path))  # the path as named, symlinks not resolved
        if str(lexical) not in self._cache:
            real = Path(path).resolve()
            groups = self._groups_at(lexical)
            self._cache[str(lexical)] = groups if real == lexical else strictest(groups, self._groups_at(real))
        return list(self._cache[str(lexical)])

    def unmatched(self, roots: list[Path]) -> list[str]:
        """Warnings for rules that matched no scanned file, in manifests at or below a root that was scanned
        whole (an ancestor's manifest also covers folders that were not indexed, so is not judged)."""
        tops = [Path(os.path.abspath(r)) for r in roots if Path(r).is_dir()]
        out = []
        for folder, m in sorted(self._manifests.items()):
            if m is None or not any(folder == t or t in folder.parents for t in tops):
                continue
            for n, rule in enumerate(m.rules):
                if (folder, n) not in self._hits:
                    msg = (f"{folder / MANIFEST}: rule {n + 1} (glob {rule.glob!r}, groups {rule.groups}) matches "
                           f"no file; the files it was meant for, if any, are NOT restricted by it")
                    log.warning(msg)
                    out.append(msg)
        return out
