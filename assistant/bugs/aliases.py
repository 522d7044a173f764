"""Replace long paths and URLs in bug threads with short aliases (<P1>, <P2>, ...) and restore them.

Bug threads are full of log paths, regression-run URLs and deep file paths that cost many tokens and
that a model tends to garble when it copies them. ChipNeMo replaced them with short aliases before
summarizing; we do the same. One `AliasMap` is shared by every prompt of a summary, so a path gets the
same alias in every chunk, and `restore` puts the originals back into the model's output.

    amap = AliasMap()
    short = amap.alias("see /proj/pico/sim/logs/dma_0042.log")   # "see <P1>"
    amap.restore("the log <P1> shows ...")                        # original path back
"""
from __future__ import annotations

import re

# URLs; absolute paths with at least two parts; relative paths with at least three parts; Windows paths.
_PATH = re.compile(
    r"""(?:
        [a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>"'`)\]]+          # URL
      | (?<![\w.~/-])~?/(?:[\w.+@-]+/)+[\w.+@-]+           # /abs/path/file or ~/path
      | (?<![\w/-])(?:[\w.+@-]+/){2,}[\w.+@-]+             # rel/deep/path/file
      | \b[A-Za-z]:\\(?:[\w.+@ -]+\\)*[\w.+@-]+            # C:\windows\path
    )""",
    re.VERBOSE,
)
_TRAILING = ".,;:!?"  # sentence punctuation that ends a path in prose, not part of it
_ALIAS = re.compile(r"<P(\d+)>")


class AliasMap:
    """A two-way map between long paths and aliases; paths shorter than ``min_length`` are left alone."""

    def __init__(self, min_length: int = 16) -> None:
        self.min_length = min_length
        self._by_path: dict[str, str] = {}
        self._by_alias: dict[str, str] = {}

    def alias(self, text: str) -> str:
        """Return ``text`` with every long path replaced by its alias (new paths get the next number)."""
        return _PATH.sub(self._replace, text)

    def restore(self, text: str) -> str:
        """Put the original paths back in place of the aliases; unknown aliases are left as they are."""
        return _ALIAS.sub(lambda m: self._by_alias.get(m.group(0), m.group(0)), text)

    @property
    def mapping(self) -> dict[str, str]:
        """alias -> original path, in the order the aliases were given."""
        return dict(self._by_alias)

    def __len__(self) -> int:
        return len(self._by_alias)

    def _replace(self, m: re.Match[str]) -> str:
        raw = m.group(0)
        path = raw.rstrip(_TRAILING)
        tail = raw[len(path):]
        if len(path) < self.min_length:
            return raw
        if path not in self._by_path:
            alias = f"<P{len(self._by_path) + 1}>"
            self._by_path[path] = alias
            self._by_alias[alias] = path
        return self._by_path[path] + tail
