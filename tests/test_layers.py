"""The import layers stay as designed: ui > assistant > retriever | adapters > corpora.

`lint-imports` checks the `[tool.importlinter]` contracts in pyproject.toml; the second test runs the same
contracts on a tiny package tree with back imports, so the check is shown to catch a violation.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    """Run `lint-imports` in ``cwd`` with only ``pythonpath`` importable (no cache written into the tree)."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_repository_keeps_its_layers():
    result = _lint(ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_back_import_is_caught(tmp_path):
    """The repository's own contracts, on packages where corpora imports assistant and retriever adapters."""
    sources = {
        "corpora": "import assistant\n",            # bottom layer reaching up
        "retriever": "import adapters\n",           # siblings must stay independent
        "adapters": "import corpora\n",
        "assistant": "import retriever\n",
        "ui": "import assistant\n",
    }
    for package, body in sources.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
    # the whole pyproject.toml, so every contract it declares is exercised unchanged
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    result = _lint(tmp_path, tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "BROKEN" in out
    assert "corpora -> assistant" in out and "retriever -> adapters" in out
