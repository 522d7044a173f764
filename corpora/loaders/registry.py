"""The format registry: which loader reads a file, and what the rest of the pipeline does with its text.

Each format module registers itself with one decorator (haystack's converters + ``FileTypeRouter`` are the
model); ingest (`corpora.ingest`) and the chunker (`corpora.chunking`) only look formats up here, so a new
format is one new module plus its import in ``corpora/loaders/__init__.py``::

    from corpora.loaders.registry import Loaded, register

    @register("systemrdl", suffixes=(".rdl",), kind="config")
    def load(path: Path) -> Loaded:
        return Loaded(text=..., title=..., locations=[(0, "addrmap uart")])

A plain function written elsewhere registers in one line: ``register("docx", suffixes=(".docx",))(docx.load)``.

A loader raises ``ValueError(reason)`` for a file it cannot read (malformed, binary, scanned PDF): ingest skips
the file and reports the reason, the build goes on.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corpora import curate
from corpora.headings import Syntax, first_heading
from corpora.types import Loaded  # noqa: F401  (re-exported: format modules import it from here)


LoadFn = Callable[[Path], Loaded]


@dataclass(frozen=True)
class Format:
    """A registered format (see `register` for the fields)."""

    doc_type: str
    load: LoadFn
    suffixes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    kind: str | Callable[[str], str] = "docs"
    headings: Syntax | None = "markdown"
    tree_sitter: str | None = None
    strip_license: bool = False
    generated_header: bool = True

    def kind_for(self, source: str) -> str:
        """Data category (`corpora.types.KINDS`) of the file at ``source`` (its path in the corpus)."""
        return self.kind(source) if callable(self.kind) else self.kind

    def title_for(self, text: str, fallback: str) -> str:
        """The first heading of the loaded text in this format's heading syntax, else ``fallback``."""
        return (first_heading(text, self.headings) if self.headings else None) or fallback


_BY_TYPE: dict[str, Format] = {}
_BY_SUFFIX: dict[str, str] = {}  # ".md" -> doc_type
_BY_NAME: dict[str, str] = {}  # "makefile" -> doc_type (whole file name, lower case)


def register(doc_type: str, *, suffixes: tuple[str, ...] | list[str] = (), names: tuple[str, ...] | list[str] = (),
             kind: str | Callable[[str], str] = "docs", headings: Syntax | None = "markdown",
             tree_sitter: str | None = None, strip_license: bool = False, generated_header: bool = True,
             replace: bool = False) -> Callable[[LoadFn], LoadFn]:
    """Decorator registering ``load(path) -> Loaded`` as the loader of ``doc_type``; returns it unchanged.

    Args:
        suffixes: file suffixes it reads, with the dot (".md", ".tar.gz"), matched case-insensitively.
        names: whole file names it reads ("makefile", "readme"), matched case-insensitively before suffixes.
        kind: the data category, or a function of the file's corpus path (RTL under ``dv/`` is verification).
        headings: heading syntax of the loaded text: "markdown" or "rst" chunk by section with the prose size
            budget; None (code, config) chunks by ``tree_sitter`` unit or line windows with the code budget.
        tree_sitter: grammar name (tree-sitter-language-pack) whose top-level units become chunks.
        strip_license: drop a leading license comment block (it repeats in every file of a repository).
        generated_header: apply the "generated file, do not edit" header rule (False for documents people read
            even when generated, such as register pages).
        replace: take over suffixes and names another format registered (else that is a ValueError), or
            replace a format of the same ``doc_type``.
    Raises:
        ValueError: ``doc_type`` or one of the suffixes/names is already registered and ``replace`` is False.
    """
    def decorator(load: LoadFn) -> LoadFn:
        add(Format(doc_type, load, tuple(s.lower() for s in suffixes), tuple(n.lower() for n in names), kind,
                   headings, tree_sitter, strip_license, generated_header), replace=replace)
        return load

    return decorator


def add(fmt: Format, replace: bool = False) -> None:
    """Register ``fmt`` (what `register` does); see `register` for ``replace``."""
    for s in fmt.suffixes:
        if not s.startswith("."):
            raise ValueError(f"format {fmt.doc_type!r}: suffix {s!r} must start with a dot")
    if not replace:
        taken = [f"{fmt.doc_type!r} is already registered"] if fmt.doc_type in _BY_TYPE else []
        taken += [f"suffix {s} belongs to {_BY_SUFFIX[s]!r}" for s in fmt.suffixes if s in _BY_SUFFIX]
        taken += [f"name {n} belongs to {_BY_NAME[n]!r}" for n in fmt.names if n in _BY_NAME]
        if taken:
            raise ValueError(f"cannot register format {fmt.doc_type!r}: {'; '.join(taken)} (pass replace=True)")
    if fmt.doc_type in _BY_TYPE:
        unregister(fmt.doc_type)
    _BY_TYPE[fmt.doc_type] = fmt
    _BY_SUFFIX.update(dict.fromkeys(fmt.suffixes, fmt.doc_type))
    _BY_NAME.update(dict.fromkeys(fmt.names, fmt.doc_type))


def unregister(doc_type: str) -> Format | None:
    """Remove a format and the suffixes/names routed to it; returns it (None if it was not registered)."""
    fmt = _BY_TYPE.pop(doc_type, None)
    for table in (_BY_SUFFIX, _BY_NAME):
        for key in [k for k, v in table.items() if v == doc_type]:
            del table[key]
    return fmt


def get(doc_type: str) -> Format | None:
    """The format registered as ``doc_type``, or None."""
    return _BY_TYPE.get(doc_type)


def formats() -> list[Format]:
    """Every registered format, in registration order."""
    return list(_BY_TYPE.values())


def format_for(path: Path) -> Format | None:
    """The format of a file: by its whole name, else its longest registered suffix; None when unknown."""
    path = Path(path)
    doc_type = _BY_NAME.get(path.name.lower())
    suffixes = [s.lower() for s in path.suffixes]
    for n in range(len(suffixes), 0, -1):  # ".tar.gz" before ".gz"
        doc_type = doc_type or _BY_SUFFIX.get("".join(suffixes[-n:]))
    return _BY_TYPE.get(doc_type) if doc_type else None


def doc_type_for(path: Path) -> str | None:
    """The doc_type of a file name, or None when no format reads it."""
    fmt = format_for(path)
    return fmt.doc_type if fmt else None


def read_text(path: Path) -> Loaded:
    """A text file decoded (UTF-8, else charset-normalizer's guess, noted); ValueError for binary content."""
    raw = Path(path).read_bytes()
    if curate.is_binary(raw[:8192]):
        raise ValueError("binary content")
    text, note = curate.decode(raw)
    return Loaded(text, meta={"notes": [note]} if note else {})
