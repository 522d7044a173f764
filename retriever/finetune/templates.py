"""Queries derived from a chunk's structure, worded the way engineers ask (no LLM needed).

``derive_queries(chunk, rng, n)`` collects facts the chunk states about named things — a Markdown table row
(a Tcl option and what it does, a register field and its meaning), a Tcl command's usage block, a Verilog
module and its commented ports, a bug's title, the heading path, a plain sentence — and words each as a
question through templates and paraphrase rules (synonyms, dropped filler words, varied openings), so the
model learns the domain's vocabulary rather than one phrasing. Used by ``gen_pairs`` for the ``derived``
backend; quick look: ``python -m retriever.finetune.templates INDEX_DIR``.
"""
from __future__ import annotations

import random
import re

from corpora.types import Chunk

STOP = {"the", "a", "an", "of", "to", "is", "are", "be", "this", "that", "in", "for", "and", "or", "it",
        "its", "by", "with", "on", "as", "i.e.", "e.g.", "which", "when", "will", "can"}
SYNONYMS = {"set": ["configure", "specify", "choose"], "enable": ["turn on", "activate"],
            "disable": ["turn off", "switch off"], "default": ["default", "default value"],
            "number": ["count", "number"], "maximum": ["max", "upper limit"], "minimum": ["min", "lower limit"],
            "raised": ["asserted", "set"], "register": ["CSR", "register"], "signal": ["signal", "wire"],
            "flag": ["option", "switch"], "specifies": ["sets", "gives"], "file": ["file", "path"]}
OPENINGS = ["how do I {x}", "how can I {x}", "is there a way to {x}", "which option lets me {x}", "{x}?"]
ABOUT = ["what does {name} do in {ctx}", "{ctx} {name} meaning", "what is {name} of {ctx} for",
         "explain {name} in {ctx}", "{name} {ctx}"]
MAX_WORDS = 20  # engineers' questions are short; a pasted table row is not one
TABLE_ROW = re.compile(r"^\s*\|(.+)\|\s*$")
NAME_CELL = re.compile(r"^`?\[?`?([-\w.\[\]:]{2,60})`?\]?(?:\(#[\w-]+\))?`?$")
MODULE = re.compile(r"^\s*module\s+(\w+)", re.M)
PORT = re.compile(r"^\s*(input|output|inout)\s+(?:wire|logic|reg|var)?\s*(?:signed\s*)?(\[[^\]]+\])?\s*(\w+)"
                  r"[^/\n]*(?://\s*(.+))?$", re.M)
USAGE = re.compile(r"```tcl\n(\w+)\s*\n\s*\[", re.M)


def derive_queries(chunk: Chunk, rng: random.Random, n: int) -> list[str]:
    """Up to ``n`` different queries that ``chunk`` answers, mixed from its facts (specific ones first)."""
    ctx = context_name(chunk)
    specific = _table_queries(chunk, ctx, rng) + _code_queries(chunk, ctx, rng) + _bug_queries(chunk, rng)
    rng.shuffle(specific)
    general = _heading_queries(chunk, rng) + _sentence_queries(chunk, ctx, rng)
    rng.shuffle(general)
    out: list[str] = []
    for q in specific[: max(1, n - 1)] + general + specific[max(1, n - 1):]:
        q = " ".join(q.split()[:MAX_WORDS]).strip(" -:")
        if len(q.split()) >= 2 and q not in out:
            out.append(q)
        if len(out) == n:
            break
    return out


GENERIC_DIRS = {"doc", "docs", "rtl", "dv", "src", "hw", "ip", "sw", "test", "tests", "include", "contrib",
                "user", "data", "util", "lib", "ip_templates", "top_earlgrey", "top_darjeeling", "README.md"}


def block_name(chunk: Chunk) -> str:
    """The block or tool a file belongs to, from its path: 'opentitan/hw/ip/uart/doc/x.md' -> 'uart',
    'openroad/src/gpl/README.md' -> 'gpl' (the first specific folder under a generic one)."""
    parts = chunk.source.split("/")[:-1]
    for prev, part in zip(parts, parts[1:]):
        if prev.lower() in {"ip", "src"} and part.lower() not in GENERIC_DIRS:
            return part
    specific = [p for p in parts[1:] if p.lower() not in GENERIC_DIRS]
    return specific[-1] if specific else ""


def with_block(ctx: str, chunk: Chunk) -> str:
    """'Registers' -> 'mbx Registers': engineers name the block; a heading alone rarely does."""
    block = block_name(chunk)
    if not block or block.lower() in ctx.lower() or ctx.lower() in block.lower():
        return ctx
    return f"{block} {ctx}"


def context_name(chunk: Chunk) -> str:
    """What the chunk is about in a few words: a command or module name, else the deepest useful heading
    (prefixed with the block name from the path when the heading does not name it)."""
    m = USAGE.search(chunk.text) or MODULE.search(chunk.text)
    if m:
        return m.group(1)
    return with_block(_heading_context(chunk), chunk)


def _heading_context(chunk: Chunk) -> str:
    parts = [p for p in re.split(r"\s*>\s*", chunk.title) if p and not p.lower().startswith(("part", "lines"))]
    parts = [re.sub(r"\s*\((?:part|lines)[^)]*\)", "", p) for p in parts]
    generic = {"options", "example", "examples", "fields", "usage", "arguments", "description", "summary"}
    for p in reversed(parts):
        if p.strip().lower() not in generic:
            return p.strip()
    top = chunk.source.rsplit("/", 3)
    return " ".join(t for t in top[-3:-1]) or chunk.source


def paraphrase(text: str, rng: random.Random, drop: float = 0.25) -> str:
    """Synonyms for common verbs/nouns and a few filler words dropped, keeping the technical terms."""
    words = []
    for w in text.split():
        low = w.lower().strip(".,;:()")
        if low in SYNONYMS and rng.random() < 0.5:
            w = rng.choice(SYNONYMS[low])
        elif low in STOP and rng.random() < drop:
            continue
        words.append(w)
    return " ".join(words)


def lower_first(s: str) -> str:
    """'Set target' -> 'set target', but 'DMA DONE' stays (an acronym)."""
    return s[:1].lower() + s[1:] if s[1:2].islower() else s


def clean_title(title: str) -> str:
    """A heading path without bug ids and '(part 2)' / '(lines 1-30)' suffixes."""
    title = re.sub(r"\s*\((?:part|lines)[^)]*\)", "", title)
    return re.sub(r"^(?:Bug\s+)?[A-Z][\w]*-\d+:\s*", "", title).strip()


def first_sentence(text: str, max_words: int = 16) -> str:
    """The first sentence of ``text`` (links, code marks and a final period removed), at most
    ``max_words`` words: the short description a derived question quotes."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # markdown links -> their text
    text = re.sub(r"[`*$]", "", text)
    sent = re.split(r"(?<=[a-z0-9)])\.\s", text.strip(), maxsplit=1)[0]
    return " ".join(sent.split()[:max_words]).rstrip(".")


def _as_question(desc: str, name: str, ctx: str, rng: random.Random) -> str:
    """'Set target density. The default...' -> 'how do I specify target density in global_placement'."""
    d = first_sentence(desc)
    low = lower_first(d)
    verb = low.split(" ", 1)[0]
    if verb in {"set", "sets", "enable", "enables", "disable", "disables", "specify", "specifies", "skip",
                "use", "run", "write", "read", "flag"}:
        action = re.sub(r"^flag to ", "", low)
        action = re.sub(r"^(\w+?)s ", r"\1 ", action)
        q = rng.choice(OPENINGS).format(x=paraphrase(action, rng)) + rng.choice([f" in {ctx}", f" with {ctx}", ""])
        return q
    if rng.random() < 0.5:
        return f"{rng.choice(['what', 'which', 'where'])} {ctx}: {paraphrase(low, rng)}"
    return rng.choice(ABOUT).format(name=name, ctx=ctx)


def _table_queries(chunk: Chunk, ctx: str, rng: random.Random) -> list[str]:
    """One query per Markdown table row that names something and describes it (options, fields, registers)."""
    out = []
    for line in chunk.text.splitlines():
        m = TABLE_ROW.match(line)
        if not m or set(line) <= set("|:- "):
            continue
        cells = [c.strip() for c in m.group(1).split("|")]
        names = [NAME_CELL.match(c) for c in cells if c]
        name = next((x.group(1) for x in names if x and not x.group(1).replace(":", "").isdigit()
                     and not x.group(1).lower().startswith(("0x", "rw", "ro", "wo"))), None)
        desc = max(cells, key=lambda c: len(c.split()), default="")
        if name and len(desc.split()) >= 3 and name not in desc[:len(name)]:
            if name.lower() in {"name", "switch", "description", "bits", "type", "reset"}:
                continue  # the header row
            out.append(_as_question(desc, name, ctx, rng))
    return out


def _code_queries(chunk: Chunk, ctx: str, rng: random.Random) -> list[str]:
    """Tcl usage blocks (command + options) and Verilog modules with their ports."""
    out = []
    for m in USAGE.finditer(chunk.text):
        cmd = m.group(1)
        opts = re.findall(r"\[(-\w+)", chunk.text[m.end() - 1:m.end() + 3000])
        out.append(rng.choice([f"options of the {cmd} command", f"{cmd} usage and arguments",
                               f"how to call {cmd}", f"what switches does {cmd} take"]))
        if opts:
            o = rng.choice(opts)
            out.append(rng.choice([f"{cmd} {o}", f"what is {o} in {cmd}", f"is {o} an option of {cmd}"]))
    for m in MODULE.finditer(chunk.text):
        mod = m.group(1)
        out.append(rng.choice([f"{mod} module ports", f"what does the {mod} module do",
                               f"where is module {mod} defined", f"interface of {mod}"]))
    for direction, _, port, comment in PORT.findall(chunk.text)[:12]:
        if comment and len(comment.split()) >= 2:
            out.append(rng.choice([f"which {ctx} port {paraphrase(first_sentence(comment), rng)}",
                                   f"{ctx} {direction} {port} meaning"]))
        elif rng.random() < 0.3:
            out.append(f"what is the {port} {direction} of {ctx}")
    return out


def _bug_queries(chunk: Chunk, rng: random.Random) -> list[str]:
    if chunk.kind != "bugs":
        return []
    title = lower_first(clean_title(chunk.title))
    return [rng.choice(["is there a known bug where {t}", "{t}", "bug: {t}", "anyone seen {t}"]).format(
        t=paraphrase(title, rng)) for _ in range(2)]


def _heading_queries(chunk: Chunk, rng: random.Random) -> list[str]:
    """From the heading path: 'UART > Registers > CTRL' -> 'CTRL register of UART', 'explain ...'."""
    parts = [p.strip() for p in re.split(r"\s*>\s*", clean_title(chunk.title)) if p.strip()]
    if not parts or chunk.kind == "bugs":
        return []
    leaf, top = parts[-1], with_block(parts[0], chunk)
    if leaf == top:
        return [rng.choice(["{l} overview", "what is {l}", "explain {l}"]).format(l=leaf)]
    return [rng.choice(["{l} in {t}", "explain {l} of {t}", "how does {t} handle {l}", "{t} {l}"])
            .format(l=leaf, t=top)]


def _sentence_queries(chunk: Chunk, ctx: str, rng: random.Random) -> list[str]:
    """A plain statement from the text, shortened and reworded, as a lookup query."""
    prose = re.sub(r"```.*?```", " ", chunk.text, flags=re.S)
    prose = "\n".join(ln for ln in prose.splitlines() if not ln.lstrip().startswith(("#", "|", "[2")))
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", prose))
                 if 6 <= len(s.split()) <= 40 and not re.search(r"[|{}<>=;]|```", s)]
    if not sentences or chunk.kind == "rtl":  # code comments make poor questions
        return []
    s = first_sentence(rng.choice(sentences), max_words=12)
    return [rng.choice(["{c}: {s}", "{s} in {c}?", "{c} {s}", "{s}"]).format(
        c=ctx, s=paraphrase(lower_first(s), rng, drop=0.4))]


if __name__ == "__main__":  # python -m retriever.finetune.templates INDEX_DIR
    import sys

    from retriever.index import Index

    r = random.Random(0)
    for i, c in enumerate(Index.open(sys.argv[1]).chunks()):
        if i % 7 == 0:
            print(f"{c.source} | {c.title}\n   " + "\n   ".join(derive_queries(c, r, 3)))
