"""Access-control groups for corpus files, from a manifest next to the corpus (`chipassist-acl.yaml`).

    rules:
      - glob: "docs/restricted/**"
        groups: [silicon-team]

Globs are matched against the POSIX path relative to the corpus root (`*` also crosses folders, as in
fnmatch). The LAST matching rule wins, as in .gitignore, so a broad rule can be narrowed below it.
Files that match no rule are public.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corpora.types import PUBLIC

MANIFEST = "chipassist-acl.yaml"


class AclRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    glob: str = Field(min_length=1)
    groups: list[str] = Field(min_length=1)


class AclManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[AclRule] = Field(default_factory=list)
    default: list[str] = Field(default_factory=lambda: [PUBLIC])

    @classmethod
    def load(cls, root: Path) -> "AclManifest":
        """Read `root/chipassist-acl.yaml`; no file means everything is public. Errors name the file."""
        path = Path(root) / MANIFEST
        if not path.is_file():
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return cls.model_validate(data)
        except (yaml.YAMLError, ValidationError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: invalid ACL manifest: {e}") from e

    def groups_for(self, source: str) -> list[str]:
        groups = self.default
        for rule in self.rules:
            if fnmatch.fnmatchcase(source, rule.glob) or fnmatch.fnmatchcase(source, rule.glob.rstrip("/*")):
                groups = rule.groups
        return list(groups)
