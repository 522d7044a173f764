"""Instruction samples derived from document structure, with no model: `qa` (section -> first paragraph, generic
tables), `commands` (command usage block + options table), `options` (one per option row), `registers` (register
and bit-field tables), `tcl` (a sentence before a Tcl block, commented procs and headers of .tcl files) and `bugs`
(description -> title, triage fields, discussion -> status summary). Option, register and command tables and bug
components also give the sibling rows of multiple-choice questions (`McGroup`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from adapters.config import RecipeError
from adapters.data import curated_documents
from adapters.gendata.samples import Candidate, McGroup
from corpora.headings import RST_TABLE_BORDER, RstLevels, markdown_heading, rst_heading


# -- corpus ----------------------------------------------------------------------------------------------------

def load_documents(roots: list[Path], acl_groups=("public",)):
    """Curated Documents visible to `acl_groups` (adapters.data.curated_documents, as DAPT reads them)."""
    roots = [Path(r) for r in roots]
    if not roots:
        raise RecipeError("data.domain_roots is empty: gen-data needs a corpus")
    docs = curated_documents(roots, acl_groups)
    if not docs:
        raise RecipeError(f"data.domain_roots: no usable documents under {', '.join(map(str, roots))}")
    return docs


def _bug_records(roots: list[Path], docs) -> dict:
    """Document source ("<export>#<id>") -> BugRecord, read back from the export files ingest kept bugs from."""
    from corpora.bugs import load_bug_export
    exports: dict[Path, dict] = {}
    out = {}
    for d in docs:
        if d.kind != "bugs" or "#" not in d.source:
            continue
        rel, bug_id = d.source.rsplit("#", 1)
        for root in map(Path, roots):
            f = root if root.is_file() else root / rel
            if f.is_file() and (root.is_dir() or root.name == rel):
                break
        else:
            continue
        if f not in exports:
            exports[f] = {r.id: r for r in load_bug_export(f).records}
        if bug_id in exports[f]:
            out[d.source] = exports[f][bug_id]
    return out


# -- markdown structure ----------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)\s*\{?([\w-]*)")
_USAGE_ARG = re.compile(r"^(\[.*\]|-\S.*|[A-Za-z_][\w|]*)$")
_OPTION_HEADERS = {"switch name", "switch", "option", "options", "flag", "parameter", "argument", "arg"}
_COMMAND_HEADERS = {"command", "commands"}


@dataclass
class _Section:
    level: int
    path: tuple[str, ...]
    body: str
    subtree: str = ""


def rst_to_markdown(text: str) -> str:
    """Enough reStructuredText -> Markdown for structure: headings, simple tables, ``code`` and code-blocks."""
    lines, out, levels, i = text.split("\n"), [], RstLevels(), 0
    while i < len(lines):
        line = lines[i]
        if heading := rst_heading(lines, i):  # the shared parser (corpora.headings): over- or underlined titles
            style, title, span = heading
            out.append("#" * levels.level(style) + " " + title)
            i += span
            continue
        if RST_TABLE_BORDER.match(line):  # simple table: border, header, border, rows, border
            starts = [m.start() for m in re.finditer(r"=+", line)]
            rows, j, borders = [], i + 1, 1
            while j < len(lines) and borders < 3:
                if RST_TABLE_BORDER.match(lines[j]):
                    borders += 1
                elif lines[j].strip():
                    cells = [lines[j][a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
                    rows.append("| " + " | ".join(cells) + " |")
                    if borders == 1:
                        rows.append("|" + "---|" * len(cells))
                j += 1
            out += rows
            i = j
            continue
        m = re.match(r"^\s*\.\. code(?:-block)?::\s*(\w*)", line)
        if m:
            j, block = i + 1, []
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            body = [b for b in block if b.strip()]
            indent = min((len(b) - len(b.lstrip()) for b in body), default=0)
            while block and not block[0].strip():
                block.pop(0)
            out += [f"```{m.group(1)}"] + [b[indent:] for b in block] + ["```", ""]
            i = j
            continue
        out.append(line.replace("``", "`"))
        i += 1
    return "\n".join(out)


def _sections(text: str) -> list[_Section]:
    secs, stack, body, fence = [], [], [], False
    level, path = 0, ()

    def close():
        secs.append(_Section(level, path, "\n".join(body)))

    for line in text.split("\n"):
        if _FENCE.match(line):
            fence = not fence
        m = None if fence else markdown_heading(line)
        if m:
            close()
            level, title = m[0], m[1].replace("`", "").strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            path, body = tuple(t for _, t in stack), []
        else:
            body.append(line)
    close()
    for i, s in enumerate(secs):
        sub = [s.body]
        for t in secs[i + 1:]:
            if t.level <= s.level:
                break
            sub.append(f"{'#' * t.level} {t.path[-1]}\n{t.body}")
        s.subtree = "\n\n".join(sub)
    return [s for s in secs if s.body.strip() or s.path]


def _strip_fences(body: str) -> list[tuple[str, str, str]]:
    """Blocks of a body in order: ("text", "", text) and ("code", lang, code)."""
    blocks, cur, lang, fence = [], [], "", False
    for line in body.split("\n"):
        m = _FENCE.match(line)
        if m and not fence:
            blocks.append(("text", "", "\n".join(cur)))
            cur, lang, fence = [], m.group(2).lower(), True
        elif m and fence:
            blocks.append(("code", lang, "\n".join(cur)))
            cur, fence = [], False
        else:
            cur.append(line)
    blocks.append(("code" if fence else "text", lang if fence else "", "\n".join(cur)))
    return blocks


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _is_prose(p: str) -> bool:
    return not p.startswith(("|", "<!--", "    ", "\t", ".. ")) and len(p) > 1


def _first_paragraph(body: str) -> str:
    paras = [p for kind, _, t in _strip_fences(body) if kind == "text" for p in _paragraphs(t)]
    paras = [p for p in paras if _is_prose(p)]
    if not paras:
        return ""
    first, rest = paras[0], paras[1:]
    while rest and (first.endswith(":") or len(first) < 80):  # a lead-in, or one-line HTML paragraphs
        first += "\n" + rest.pop(0)
    return first


def _tables(body: str) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown pipe tables (blank lines between rows allowed, as HTML conversion writes them); fenced code skipped."""
    tables, header, rows = [], None, []
    text = "\n".join(t for kind, _, t in _strip_fences(body) if kind == "text")
    for line in text.split("\n") + ["."]:
        s = line.strip()
        if not s:
            continue
        if not s.startswith("|"):
            if header:
                tables.append((header, rows))
            header, rows = None, []
            continue
        cells = [c.strip().strip("`").strip() for c in s.replace("``", "`").strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue
        if header is None:
            header = [c.lower().replace("`", "") for c in cells]
        else:
            rows.append(cells + [""] * (len(header) - len(cells)))
    return tables


def _col(header: list[str], *names: str) -> int | None:
    for n in names:
        for i, h in enumerate(header):
            if h == n or h.startswith(n + " "):
                return i
    return None


def _rest(header: list[str], row: list[str], skip: set[int]) -> str:
    return "; ".join(f"{h}: {c}" for i, (h, c) in enumerate(zip(header, row)) if i not in skip and c)


def _usage(code: str) -> str | None:
    """The command name if a code block is a usage synopsis (`cmd` then `[-opt x]` / `-flag` / `arg` lines)."""
    lines = [ln.strip() for ln in code.strip().split("\n") if ln.strip()]
    if not lines or not re.fullmatch(r"[A-Za-z_][\w:]*", lines[0]):
        return None
    return lines[0] if all(_USAGE_ARG.match(ln) for ln in lines[1:]) else None


def _reserved(name: str, desc: str) -> bool:
    return name in ("", "-", "—", "–", "...") or desc.lower().rstrip(".") in ("reserved", "")


def from_markdown(text: str, source: str = "", title: str = "") -> tuple[list[Candidate], list[McGroup]]:
    """Candidates (qa, commands, options, registers, tcl) and multiple-choice groups from one Markdown document."""
    secs = _sections(text)
    doc = next((s.path[0] for s in secs if s.level == 1 and s.path), title or source or "documentation")
    out: list[Candidate] = []
    groups: list[McGroup] = []
    usage_of: dict[tuple, str] = {}
    for s in secs:
        for kind, lang, code in _strip_fences(s.body):
            if kind == "code" and lang in ("tcl", "sdc") and _usage(code):
                usage_of[s.path] = _usage(code)
    for s in secs:
        where = " > ".join(s.path[1:]) or (s.path[-1] if s.path else doc)
        ctx = f"{where}\n{s.body}"
        add = lambda kind, q, a, c=ctx: out.append(Candidate(kind, q, a, source, c))  # noqa: E731
        para = _first_paragraph(s.body)
        if para and s.path:
            q = f"What is the {doc} about?" if len(s.path) == 1 else \
                f"In the {doc}, what does the section \"{where}\" explain?"
            add("qa", q, para)
        # the nearest usage synopsis in this section or an ancestor names the command an options table belongs to
        cmd = next((usage_of[s.path[:k]] for k in range(len(s.path), 0, -1) if s.path[:k] in usage_of), None)
        blocks = _strip_fences(s.body)
        for n, (kind, lang, code) in enumerate(blocks):
            if kind != "code" or lang not in ("tcl", "sdc"):
                continue
            name = _usage(code)
            if name:
                opts = [(r[0], r[1]) for h, rows in _tables(s.subtree) if h and h[0] in _OPTION_HEADERS
                        for r in rows if len(r) > 1]
                answer = (para + "\n\n" if para else "") + f"```tcl\n{code.strip()}\n```"
                if opts:
                    answer += "\n\nOptions:\n" + "\n".join(f"- `{o}`: {d}" for o, d in opts)
                add("commands", f"What does the `{name}` command in the {doc} do, and what are its options?", answer,
                    f"{where}\n{s.subtree}")
                continue
            before = _paragraphs(blocks[n - 1][2])[-1] if n and _paragraphs(blocks[n - 1][2]) else ""
            if before and _is_prose(before) and not before.startswith("#"):
                add("tcl", f"Write a Tcl snippet for this task: {before.rstrip(':')}", f"```tcl\n{code.strip()}\n```")
        for header, rows in _tables(s.body):
            if not rows:
                continue
            group = None
            if header[0] in _OPTION_HEADERS:
                owner = cmd or (s.path[-2] if len(s.path) > 1 and s.path[-1].lower() == "options" else where)
                group = McGroup("commands", source, f"In the {doc}, which `{owner}` option or argument does this: ")
                for r in rows:
                    if len(r) > 1 and not _reserved(r[0], r[1]):
                        word = "option" if r[0].startswith("-") else "argument"
                        add("options", f"In the {doc}, what does the `{r[0]}` {word} of `{owner}` do?",
                            f"The `{r[0]}` {word} of `{owner}`: {r[1]}")
                        group.items.append((r[0], r[1]))
            elif header[0] in _COMMAND_HEADERS:
                group = McGroup("commands", source, f"In the {doc}, which command does this: ")
                for r in rows:
                    if len(r) > 1 and not _reserved(r[0], r[1]):
                        add("commands", f"In the {doc}, what does the command `{r[0]}` do?", f"`{r[0]}`: {r[1]}")
                        group.items.append((r[0], r[1]))
            elif "offset" in header:
                name_i = _col(header, "name", "register") or 0
                desc_i = _col(header, "description", "fields", "function")
                group = McGroup("registers", source, f"In the {doc}, which register is this: ")
                for r in rows:
                    if _reserved(r[name_i], "x"):
                        continue
                    add("registers", f"In the {doc}, what is the `{r[name_i]}` register?",
                        f"`{r[name_i]}` register: {_rest(header, r, {name_i})}")
                    if desc_i is not None and r[desc_i]:
                        group.items.append((r[name_i], r[desc_i]))
            elif _col(header, "bits", "bit") is not None:
                name_i = _col(header, "field", "name")
                desc_i = _col(header, "description", "function")
                if name_i is None:
                    continue
                m = re.match(r"[A-Z][A-Z0-9_]*", s.path[-1] if s.path else "")
                reg = m.group(0) if m else where
                group = McGroup("registers", source, f"In the {doc}, which `{reg}` field does this: ")
                for r in rows:
                    desc = r[desc_i] if desc_i is not None else ""
                    if _reserved(r[name_i], desc or "x"):
                        continue
                    add("registers", f"In the {doc}, what does the `{reg}.{r[name_i]}` field do?",
                        f"`{reg}.{r[name_i]}`: {_rest(header, r, {name_i})}")
                    if desc:
                        group.items.append((r[name_i], desc))
            else:
                name_i = _col(header, "name", "field", "signal") or 0
                for r in rows:
                    rest = _rest(header, r, {name_i})
                    if r[name_i] and rest and not _reserved(r[name_i], "x"):
                        add("qa", f"In the {doc}, section \"{where}\": what is listed for `{r[name_i]}`?",
                            f"`{r[name_i]}`: {rest}")
            if group and group.items:
                groups.append(group)
    return out, groups


# -- Tcl files and bugs ----------------------------------------------------------------------------------------

_PROC = re.compile(r"((?:^[ \t]*#[^\n]*\n)+)(^proc[ \t]+(\S+)[^\n]*\n(?:.*?\n)*?^\}[ \t]*$)", re.M)


def from_tcl(text: str, source: str = "") -> list[Candidate]:
    """Tcl tasks from a script: its header comment -> the script, each commented proc -> the proc."""
    out = []
    header = []
    for line in text.split("\n"):
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    purpose = header[0] if header else ""
    if " - " in purpose:
        purpose = purpose.split(" - ", 1)[1]
    if purpose:
        out.append(Candidate("tcl", f"Write a Tcl script ({Path(source).name or 'flow'}) to {purpose.rstrip('.')}",
                             f"```tcl\n{text.strip()}\n```", source, text))
    for m in _PROC.finditer(text):
        comment = " ".join(ln.strip().lstrip("#").strip() for ln in m.group(1).strip().split("\n"))
        if m.start() == 0 and header:  # the file header is not the proc's comment
            continue
        out.append(Candidate("tcl", f"Write a Tcl proc `{m.group(3)}`: {comment}", f"```tcl\n{m.group(2).strip()}\n```",
                             source, m.group(0)))
    return out


def _scrub(s: str) -> str:
    from corpora.curate import scrub_secrets
    return scrub_secrets(s)[0]


def from_bug(rec, source: str = "") -> list[Candidate]:
    """A BugRecord (or a dict with its fields) -> one-line summary, triage and status-summary samples."""
    from corpora.bugs import bug_to_text
    from corpora.types import BugRecord
    rec = rec if isinstance(rec, BugRecord) else BugRecord.model_validate(rec)
    text = _scrub(bug_to_text(rec))
    desc, title = _scrub(rec.description.strip()), _scrub(rec.title.strip())
    out = []
    if desc and title:
        out.append(Candidate("bugs", f"Summarize this bug report in one line:\n{desc}", title, source, text))
        if rec.component and rec.severity:
            out.append(Candidate("bugs", f"Which component and severity should this bug be filed under?\n{title}\n{desc}",
                                 f"Component: {rec.component}; severity: {rec.severity}.", source, text))
    if title and rec.status and rec.comments:
        state = rec.status + (f" ({rec.resolution})" if rec.resolution else "")
        last = _scrub(rec.comments[-1].text.strip())
        out.append(Candidate("bugs", f"Summarize bug {rec.id} and where it stands:\n\n{text}",
                             f"{title}. Status: {state}." + (f" Latest: {last}" if last else ""), source, text))
    return out


def from_structure(roots: list[Path], docs=None) -> tuple[list[Candidate], list[McGroup]]:
    """Candidates and multiple-choice groups derived from the structure of every document under `roots`."""
    docs = load_documents(roots) if docs is None else docs
    bugs = _bug_records(roots, docs)
    cands, groups = [], []
    bug_group = McGroup("bugs", "bugs", "Which component does this bug belong to: ")
    for d in docs:
        if d.kind == "bugs":
            rec = bugs.get(d.source)
            if rec is not None:
                cands += from_bug(rec, d.source)
                if rec.component and rec.title:
                    bug_group.items.append((rec.component, _scrub(rec.title)))
        elif d.doc_type == "tcl":
            cands += from_tcl(d.text, d.source)
        elif d.doc_type in ("markdown", "html", "rst", "text"):
            text = rst_to_markdown(d.text) if d.doc_type == "rst" else d.text
            c, g = from_markdown(text, d.source, d.title)
            cands += c
            groups += g
    if bug_group.items:
        groups.append(bug_group)
    return cands, groups
