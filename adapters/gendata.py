"""Instruction data for domain SFT (and an AutoEval multiple-choice set), made from the corpus.

Two sources:
- a teacher LLM (recipe `gendata.teacher`: any OpenAI-compatible server): corpus chunks are sent with one prompt per
  kind - `qa` (question/answer from document and code chunks), `tcl` (task -> script, from Tcl files and command
  docs) and `bugs` (bug record -> summary) - and the JSON in each reply is parsed (a list or object, bare or in a
  ```json fence). Unparseable replies and items are counted as dropped, never fatal.
- without one, samples are derived from document structure: `qa` (section -> first paragraph, generic tables),
  `commands` (command usage block + options table), `options` (one per option row), `registers` (register and
  bit-field tables), `tcl` (a sentence before a Tcl block, commented procs and headers of .tcl files) and `bugs`
  (description -> title, triage fields, discussion -> status summary).

Then every candidate is filtered - empty, too short/long, answer not grounded in its source text (share of content
words) - and deduplicated: same normalised question, or a near-duplicate one (word-set Jaccard >= threshold with the
same identifiers, so "-min" and "-max" stay distinct). The report gives made/kept/dropped and drop reasons per kind.
Option/register/command tables and bug components also give multiple-choice questions (distractors are sibling rows)
in the AutoEval JSONL format (question, choices, answer index, category).

Run: `chipassist adapt gen-data RECIPE`; outputs in RUN/gendata/: sft.jsonl, dropped.jsonl, autoeval_mc.jsonl.
"""
from __future__ import annotations

import json
import random
import re
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from adapters.config import GenDataSection, RecipeError, TeacherSection
from adapters.data import curated_documents
from corpora.headings import RST_TABLE_BORDER, RstLevels, markdown_heading, rst_heading
from corpora.jsonl import write_jsonl

STRUCTURE_KINDS = ("qa", "commands", "options", "registers", "tcl", "bugs")
TEACHER_KINDS = ("qa", "tcl", "bugs")


@dataclass
class Candidate:
    """One generated (question, answer) sample before filtering, with the text it must be grounded in."""
    kind: str
    question: str
    answer: str
    source: str = ""
    context: str = ""  # the text the answer must be grounded in
    reason: str = ""  # set when the candidate is broken before filtering (a malformed teacher reply)

    def sample(self) -> dict:
        """The sample as an SFT chat row (user question, assistant answer)."""
        return {"kind": self.kind, "source": self.source,
                "messages": [{"role": "user", "content": self.question.strip()},
                             {"role": "assistant", "content": self.answer.strip()}]}


@dataclass
class McGroup:
    """Sibling rows of one table (or all bugs) from which multiple-choice questions are drawn."""
    category: str
    source: str
    prefix: str  # the question up to the quoted description
    items: list[tuple[str, str]] = field(default_factory=list)  # (name = the right choice, description)


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


# -- teacher ---------------------------------------------------------------------------------------------------

_JSON_RULE = "Reply with only JSON, no other text."
PROMPTS = {
    "qa": ("You write training data for a chip-design engineering assistant. From the text below, write up to {n} "
           "questions an engineer might ask, each with a correct answer supported by the text alone. " + _JSON_RULE +
           " Format: a JSON list of objects with keys \"question\" and \"answer\".\n\nSOURCE: {title}\nTEXT:\n{chunk}"),
    "tcl": ("You write training data for a chip-design engineering assistant. From the text below, write up to {n} "
            "tasks an engineer could automate with a Tcl script using the commands or flow it describes, each with a "
            "complete, runnable script. " + _JSON_RULE + " Format: a JSON list of objects with keys \"task\" and "
            "\"script\".\n\nSOURCE: {title}\nTEXT:\n{chunk}"),
    "bugs": ("Summarize the bug report below for a chip-design engineer. " + _JSON_RULE + " Format: a JSON object "
             "with keys \"summary\" (one line: what is wrong and where) and \"resolution\" (status and outcome, one "
             "or two sentences).\n\nBUG:\n{chunk}"),
}
_Q_KEYS = ("question", "q", "instruction", "prompt", "task")
_A_KEYS = ("answer", "a", "response", "output", "script", "code", "summary")
_TCL_HINT = re.compile(r"```tcl|\btcl\b|\bcommand\b|^\s*-\w+", re.I | re.M)


def parse_reply(text: str) -> list | None:
    """The JSON list of items in a teacher reply (bare, in a ```json fence or after prose), or None."""
    texts = [m.group(1) for m in re.finditer(r"```(?:json|JSON)?[ \t]*\n(.*?)```", text, re.S)] + [text]
    dec = json.JSONDecoder()
    for t in texts:
        t = t.strip()
        starts = [i for i, ch in enumerate(t) if ch in "[{"][:20]
        for i in starts:
            try:
                obj, _ = dec.raw_decode(t, i)
            except ValueError:
                continue
            if isinstance(obj, list):
                return obj
            if isinstance(obj, dict):
                inner = next((obj[k] for k in ("samples", "items", "data", "pairs", "questions", "tasks")
                              if isinstance(obj.get(k), list)), None)
                return inner if inner is not None else [obj]
    return None


def _pick(item: dict, keys: tuple[str, ...]) -> tuple[str, str]:
    low = {str(k).lower(): v for k, v in item.items()}
    for k in keys:
        v = low.get(k)
        if isinstance(v, (str, int, float)) and str(v).strip():
            return k, str(v).strip()
    return "", ""


def candidates_from_reply(kind: str, reply: str, chunk: str, source: str, limit: int) -> list[Candidate]:
    """Candidates from one teacher reply; a malformed reply or item becomes one candidate with a drop reason."""
    items = parse_reply(reply)
    if items is None:
        return [Candidate(kind, "", reply[:200], source, chunk, reason="malformed_reply")]
    out = []
    for n, it in enumerate(items):
        if n >= limit:
            out.append(Candidate(kind, "", "", source, chunk, reason="over_samples_per_chunk"))
            continue
        if not isinstance(it, dict):
            out.append(Candidate(kind, "", str(it)[:200], source, chunk, reason="malformed_item"))
            continue
        if kind == "bugs":
            _, summary = _pick(it, ("summary", "answer", "title"))
            _, resolution = _pick(it, ("resolution", "status", "details"))
            qk, q = _pick(it, ("question", "instruction"))
            q = q or f"Summarize this bug report:\n\n{chunk}"
            a = summary + (f"\nResolution: {resolution}" if summary and resolution else "")
        else:
            qk, q = _pick(it, _Q_KEYS)
            _, a = _pick(it, _A_KEYS)
            if kind == "tcl" and qk == "task":
                q = f"Write a Tcl script for this task: {q}"
        if not q or not a:
            out.append(Candidate(kind, q, a, source, chunk, reason="malformed_item"))
            continue
        out.append(Candidate(kind, q, a, source, chunk))
    return out


def teacher_jobs(docs, max_jobs: int) -> list[tuple[str, str, str, str]]:
    """(kind, title, chunk text, source) per request: bugs -> bugs, Tcl -> tcl, docs/code -> qa (+ tcl for command
    docs); taken round-robin across kinds so `max_jobs` covers all three."""
    from corpora.chunking import chunk_document
    by_kind: dict[str, list] = {k: [] for k in TEACHER_KINDS}
    for d in docs:
        if d.kind == "bugs":
            by_kind["bugs"].append(("bugs", d.title, d.text[:6000], d.source))
            continue
        for ch in chunk_document(d):
            if len(ch.text.strip()) < 80:
                continue
            job = (ch.title or d.title, ch.text, ch.id)
            if d.kind == "tcl":
                by_kind["tcl"].append(("tcl", *job))
            else:
                by_kind["qa"].append(("qa", *job))
                if d.kind == "docs" and _TCL_HINT.search(ch.text):
                    by_kind["tcl"].append(("tcl", *job))
    jobs, queues = [], [list(v) for v in by_kind.values()]
    while len(jobs) < max_jobs and any(queues):
        for q in queues:
            if q and len(jobs) < max_jobs:
                jobs.append(q.pop(0))
    return jobs


def teacher_client(teacher: TeacherSection):
    """The shared OpenAI-compatible client (`corpora.llm_client`) for the recipe's teacher, key from
    ``$teacher.api_key_env``."""
    from corpora.llm_client import ChatClient

    return ChatClient(teacher.base_url, api_key_env=teacher.api_key_env, timeout_s=teacher.timeout_s)


def check_teacher(teacher: TeacherSection, client=None) -> None:
    """Fail before any generation if the teacher is unreachable, rejects the key, or does not serve the model."""
    from corpora.llm_client import LLMError

    client = client or teacher_client(teacher)
    try:
        served = [m["id"] for m in client.models(timeout_s=min(10.0, teacher.timeout_s), retries=0)]
    except LLMError as e:
        if e.kind in ("unreachable", "timeout"):
            raise RecipeError(f"gendata.teacher: cannot reach the teacher at {teacher.base_url} ({e}); start an "
                              f"OpenAI-compatible server there or fix gendata.teacher.base_url") from e
        if e.kind == "auth":
            raise RecipeError(f"gendata.teacher: {teacher.base_url} rejected the API key "
                              f"(set ${teacher.api_key_env})") from e
        return  # a server without GET /models: the first request will tell
    if served and teacher.model not in served:
        raise RecipeError(f"gendata.teacher.model: {teacher.model!r} is not served at {teacher.base_url} "
                          f"(it serves {', '.join(served)})")


def from_teacher(docs, teacher: TeacherSection, log=None) -> tuple[list[Candidate], dict]:
    """Ask the teacher for samples chunk by chunk (concurrently); returns candidates and request counts per kind."""
    from concurrent.futures import ThreadPoolExecutor
    client = teacher_client(teacher)
    check_teacher(teacher, client)
    jobs = teacher_jobs(docs, teacher.max_chunks)

    def ask(job):
        kind, title, chunk, source = job
        prompt = PROMPTS[kind].format(n=teacher.samples_per_chunk, title=title, chunk=chunk)
        try:
            reply = client.complete(teacher.model, [{"role": "user", "content": prompt}],
                                    max_tokens=teacher.max_tokens, temperature=teacher.temperature)
            return candidates_from_reply(kind, reply, chunk, source, teacher.samples_per_chunk), None
        except Exception as e:  # noqa: BLE001 - one failed request must not end the run
            return [Candidate(kind, "", "", source, chunk, reason="teacher_error")], f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=teacher.concurrency) as pool:
        results = list(pool.map(ask, jobs))
    errors = [e for _, e in results if e]
    if jobs and len(errors) == len(jobs):
        raise RecipeError(f"gendata.teacher: every request to {teacher.base_url} failed, e.g. {errors[0]}")
    requests = Counter(j[0] for j in jobs)
    if log and errors:
        log(f"gen-data: {len(errors)} of {len(jobs)} teacher requests failed, e.g. {errors[0]}")
    return [c for cands, _ in results for c in cands], {"requests": dict(requests), "failed_requests": len(errors)}


# -- filtering and dedup ---------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_IDENT = re.compile(r"-?[A-Za-z_][\w.]*")
_STOP = set("the and for with this that are was were from into its not you your can will has have use used when "
            "which what does each all any one but then than only also out how who why where their there these those "
            "should would could must may been being our per via".split())


def _norm(q: str) -> str:
    return " ".join(_WORD.findall(q.lower()))


def _idents(q: str) -> frozenset[str]:
    """Names in a question - quoted or `code` spans and identifiers (with _ . digits, a leading -, or 2+ capitals):
    questions about different names are different questions however alike their other words."""
    quoted = re.findall(r'"([^"\n]{1,200})"|`([^`\n]{1,200})`', q)
    names = {a or b for a, b in quoted}
    return frozenset(names | {t for t in _IDENT.findall(q.replace("`", " ")) if t.startswith("-") or
                              re.search(r"[_\d.]", t) or sum(ch.isupper() for ch in t) >= 2})


def _content(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOP}


def _filter_reason(c: Candidate, cfg: GenDataSection) -> str:
    q, a = c.question.strip(), c.answer.strip()
    if not q or not a:
        return "empty"
    if len(a) < cfg.min_answer_chars or len(q) < 10:
        return "too_short"
    if len(a) > cfg.max_answer_chars or len(q) > cfg.max_question_chars:
        return "too_long"
    if cfg.min_overlap > 0 and c.context:
        words = _content(a)
        shared = words & _content(c.context)
        if not shared or len(shared) < cfg.min_overlap * len(words):
            return "ungrounded"
    return ""


def dedup_filter(cands: list[Candidate], cfg: GenDataSection) -> tuple[list[Candidate], dict, list[tuple]]:
    """Filter and deduplicate in order (the first of duplicates is kept); cap each kind at max_per_kind.
    Returns (kept, per-kind report, dropped (candidate, reason) pairs)."""
    from corpora.dedup import NearDuplicates
    # questions are short: compare word sets (1-shingles) exactly; LSH only proposes candidates
    near = NearDuplicates(cfg.near_dup_threshold, shingle=1, num_perm=128, exact=True)
    seen: set[str] = set()
    kept_idents: dict[int, frozenset[str]] = {}
    made, kept_n, reasons = Counter(), Counter(), {}
    kept, dropped = [], []
    for n, c in enumerate(cands):
        made[c.kind] += 1
        reason = c.reason or _filter_reason(c, cfg)
        norm = _norm(c.question)
        idents, comparable = _idents(c.question), len(set(norm.split())) >= 3
        if not reason and norm in seen:
            reason = "duplicate"
        # questions about different names are different questions however alike their other words
        if not reason and comparable and near.find(norm, accept=lambda key: kept_idents[key] == idents) is not None:
            reason = "near_duplicate"
        if not reason and kept_n[c.kind] >= cfg.max_per_kind:
            reason = "over_max_per_kind"
        if reason:
            reasons.setdefault(c.kind, Counter())[reason] += 1
            dropped.append((c, reason))
            continue
        seen.add(norm)
        if comparable:
            kept_idents[n] = idents
            near.add(n, norm)
        kept_n[c.kind] += 1
        kept.append(c)
    report = {k: {"made": made[k], "kept": kept_n[k], "dropped": made[k] - kept_n[k],
                  "reasons": dict(sorted(reasons.get(k, {}).items()))} for k in sorted(made)}
    return kept, report, dropped


# -- AutoEval multiple choice ----------------------------------------------------------------------------------

def mc_questions(groups: list[McGroup], max_choices: int = 4) -> list[dict]:
    """One question per row with a distinctive description; distractors are other rows' names (3+ choices)."""
    rows, seen = [], set()
    for g in groups:
        names = list(dict.fromkeys(n for n, _ in g.items))
        descs = Counter(d for _, d in g.items)
        if len(names) < 3:
            continue
        for name, desc in g.items:
            q = f"{g.prefix}\"{desc}\"?"
            if descs[desc] > 1 or q in seen or name.lower() in desc.lower():
                continue
            seen.add(q)
            rng = random.Random(zlib.crc32(q.encode()))
            others = [n for n in names if n != name]
            choices = rng.sample(others, min(max_choices - 1, len(others))) + [name]
            rng.shuffle(choices)
            rows.append({"question": q, "choices": choices, "answer": choices.index(name),
                         "category": g.category, "source": g.source})
    return rows


# -- stage -----------------------------------------------------------------------------------------------------

def generate(roots: list[Path], cfg: GenDataSection, out_path: Path, log=None, acl_groups=("public",)) -> dict:
    """Write filtered, deduplicated SFT samples to `out_path` (JSONL, atomically), the dropped ones with reasons to
    dropped.jsonl and (cfg.autoeval_mc) multiple-choice questions to autoeval_mc.jsonl beside it; return the report.

    Raises RecipeError (before any request) for missing/empty roots, an unreachable teacher or an unserved model,
    and when nothing at all is kept.
    """
    t0 = time.perf_counter()
    docs = load_documents(roots, acl_groups)
    extra: dict = {}
    if cfg.teacher:
        cands, extra = from_teacher(docs, cfg.teacher, log)
        groups = from_structure(roots, docs)[1] if cfg.autoeval_mc else []
    else:
        cands, groups = from_structure(roots, docs)
    kept, per_kind, dropped = dedup_filter(cands, cfg)
    if not kept:
        why = Counter(r for _, r in dropped).most_common(3)
        raise RecipeError(f"gen-data: no sample kept from {len(docs)} documents under "
                          f"{', '.join(map(str, roots))} (made {len(cands)}; drop reasons {dict(why)})")
    out_path = Path(out_path)
    write_jsonl(out_path, [c.sample() for c in kept])
    write_jsonl(out_path.parent / "dropped.jsonl",
                 [{"kind": c.kind, "reason": r, "source": c.source, "question": c.question[:300],
                   "answer": c.answer[:300]} for c, r in dropped])
    report = {"source": "teacher" if cfg.teacher else "structure", "documents": len(docs), **extra,
              "made": len(cands), "kept": len(kept), "dropped": len(dropped),
              "drop_reasons": dict(Counter(r for _, r in dropped).most_common()), "per_kind": per_kind,
              "out": str(out_path)}
    if cfg.autoeval_mc:
        mc = mc_questions(groups)
        write_jsonl(out_path.parent / "autoeval_mc.jsonl", mc)
        report["autoeval_mc"] = {"path": str(out_path.parent / "autoeval_mc.jsonl"), "questions": len(mc),
                                 "per_category": dict(Counter(r["category"] for r in mc))}
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return report
