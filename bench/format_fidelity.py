"""Format fidelity: does retrieval survive a spec being a PDF or a Word file instead of Markdown, and a register
map being Excel or IP-XACT instead of OpenTitan hjson?

    nice python bench/format_fidelity.py [--corpus ../shared/corpora] [--limit 20] [--parts docs,registers]

``docs``: the gold Markdown files of ``--queries`` (bench/queries/shared.jsonl) plus ``--limit`` other Markdown
files as distractors are converted to PDF (pandoc -f gfm to standalone HTML with ruled tables, then headless
Chromium ``--print-to-pdf`` with its default running header and footer) and to .docx (pandoc); the converted
files themselves (``<source>.pdf`` / ``<source>.docx``) make up the PDF and Word corpora, read by the loader
registry like any user's files (corpora/loaders/specs.py); gold files that are not Markdown (hjson,
SystemVerilog) are copied unchanged into every corpus. Each corpus is indexed with ``retriever.build.build_index`` (default config) and the
questions are scored by ``retriever.evaluate.evaluate`` with gold sources mapped to the converted files. Markup
that a PDF or Word file cannot carry (backticks, ``**``, link targets) is removed from gold texts and chunk texts
alike in all three versions, so the comparison measures the conversion, not Markdown syntax. "What is lost" lists
each question found in Markdown but not in a converted version, and whether its gold text still exists in the
converted text (ranking lost) or not (text lost in conversion).

``registers``: OpenTitan register descriptions. The shared corpus holds reggen's rendered ``doc/registers.md``,
not the ``data/<ip>.hjson`` sources, so each registers.md is parsed back into a reggen hjson (registers in order,
``skipto`` where offsets jump, fields with bits/swaccess/resval/desc/enums) and that hjson is converted to .xlsx
(openpyxl, register-row + field-row layout, non-standard column names) and IP-XACT 2014 XML. The questions of
bench/queries/registers.jsonl ("which bit/field/offset") are asked of five indexes: the registers.md, the raw
hjson as today's loader chunks it, and the hjson, .xlsx and IP-XACT through corpora/formats. A hit: a top-5
chunk from the question's IP whose title and text hold every ``must`` string and the ``bits`` (``answers``).

Writes bench/out/format_fidelity.json. Takes a few minutes on 2 cores (Chromium prints ~1-3 s a file).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.retrieval import CORPUS, OUT, QUERIES  # noqa: E402  (one definition of the shared corpus and questions)

REG_QUERIES = ROOT / "bench" / "queries" / "registers.jsonl"
CSS = "table { border-collapse: collapse; } th, td { border: 1px solid #444; padding: 2px 4px; }"
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def demark(text: str) -> str:
    """Text without the Markdown markup a PDF/Word rendering drops: links keep their text, code/emphasis marks go."""
    return _LINK.sub(r"\1", text).replace("`", "").replace("**", "").replace("*", "")


# ---------------------------------------------------------------- docs: Markdown vs PDF vs Word

def to_pdf(md: Path, work: Path, chromium: str) -> Path:
    """pandoc (GitHub Markdown -> standalone HTML, ruled tables, no images) then Chromium print-to-PDF."""
    html = work / (md.stem + ".html")
    subprocess.run(["pandoc", "-f", "gfm", "-t", "html", "-s", "--metadata", f"title={md.stem}",
                    "-o", str(html), str(md)], check=True, capture_output=True, timeout=120)
    page = re.sub(r"<img\b[^>]*>", "", html.read_text(encoding="utf-8"))  # no fetches: nothing to reach offline
    html.write_text(page.replace("</head>", f"<style>{CSS}</style></head>", 1), encoding="utf-8")
    pdf = work / (md.stem + ".pdf")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    f"--print-to-pdf={pdf}", html.as_uri()], check=True, capture_output=True, timeout=120)
    return pdf


def to_docx(md: Path, work: Path) -> Path:
    out = work / (md.stem + ".docx")
    subprocess.run(["pandoc", "-f", "gfm", "-t", "docx", "-o", str(out), str(md)], check=True,
                   capture_output=True, timeout=120)
    return out


def build_doc_corpora(corpus: Path, queries: Path, limit: int, tmp: Path) -> dict:
    """Three corpora (md, pdf, docx) of the gold files plus ``limit`` Markdown distractors; conversion stats."""
    from corpora.formats.office import load_docx
    from corpora.formats.pdf import load_pdf
    from retriever.evaluate import load_queries

    gold = sorted({g.source for q in load_queries(queries) for g in q.gold})
    others = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.md")
                    if p.relative_to(corpus).as_posix() not in gold)
    step = max(1, len(others) // max(1, limit)) if limit else 0
    files = gold + (others[::step][:limit] if limit else [])
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium or not shutil.which("pandoc"):
        raise SystemExit("format_fidelity: needs pandoc and chromium on PATH")
    stats = {"files": len(files), "converted": {"pdf": 0, "docx": 0}, "failed": [], "seconds": {"pdf": 0.0, "docx": 0.0},
             "pages": 0}
    for name in ("md", "pdf", "docx"):
        (tmp / name).mkdir(parents=True)
    work = tmp / "work"
    work.mkdir()
    for rel in files:
        src = corpus / rel
        for name in ("md", "pdf", "docx"):
            (tmp / name / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, tmp / "md" / rel)
        if src.suffix.lower() != ".md":
            shutil.copy2(src, tmp / "pdf" / rel)
            shutil.copy2(src, tmp / "docx" / rel)
            continue
        for fmt, convert, load in (("pdf", lambda p: to_pdf(p, work, chromium), load_pdf),
                                   ("docx", lambda p: to_docx(p, work), load_docx)):
            t0 = time.perf_counter()
            try:
                converted = convert(src)
                loaded = load(converted)  # for the page count and the "text lost?" check; the index reads the file
                shutil.copy2(converted, tmp / fmt / f"{rel}.{fmt}")
                text_copy = tmp / f"{fmt}-text" / f"{rel}.{fmt}"
                text_copy.parent.mkdir(parents=True, exist_ok=True)
                text_copy.write_text(loaded.text, encoding="utf-8")
                stats["converted"][fmt] += 1
                stats["pages"] += loaded.meta.get("pages", 0)
            except Exception as e:  # a failed conversion is a fidelity loss to report, not a crash
                stats["failed"].append({"source": rel, "format": fmt, "error": f"{type(e).__name__}: {e}"[:300]})
            stats["seconds"][fmt] += time.perf_counter() - t0
        print(f"converted {rel}", file=sys.stderr)
    return stats


class Demarked:
    """A searchable whose hits come back with de-marked text and sources mapped to the original names."""

    def __init__(self, index, suffix: str) -> None:
        self.index, self.suffix = index, suffix

    def search(self, query: str, k: int = 10, **kw):
        from dataclasses import replace

        hits = self.index.search(query, k=k, **kw)
        out = []
        for h in hits:
            source = h.chunk.source.removesuffix(self.suffix) if self.suffix else h.chunk.source
            out.append(replace(h, chunk=replace(h.chunk, source=source, text=demark(h.chunk.text))))
        return out


def run_docs(args, tmp: Path) -> dict:
    from retriever.build import build_index
    from retriever.evaluate import evaluate, load_queries, normalize
    from retriever.index import Index

    stats = build_doc_corpora(Path(args.corpus), Path(args.queries), args.limit, tmp)
    queries = [q.model_copy(update={"gold": [g.model_copy(update={"contains": demark(g.contains)}) for g in q.gold]})
               for q in load_queries(args.queries)]
    results: dict = {"conversion": stats, "versions": {}}
    texts: dict[str, dict[str, str]] = {}
    for name, suffix in (("md", ""), ("pdf", ".pdf"), ("docx", ".docx")):
        t0 = time.perf_counter()
        build_index([tmp / name], tmp / f"index-{name}", progress=False)
        index = Index.open(tmp / f"index-{name}")
        report = evaluate(Demarked(index, suffix), queries)
        results["versions"][name] = {"hit@1": report.hit_at_1, "hit@5": report.hit_at_5, "mrr@10": report.mrr_at_10,
                                     "ranks": report.ranks, "seconds": round(time.perf_counter() - t0, 1)}
        texts[name] = {}
        for q in queries:
            for g in q.gold:
                converted = g.source.endswith(".md") and name != "md"
                p = tmp / (f"{name}-text" if converted else name) / (g.source + (suffix if converted else ""))
                if p.is_file():
                    texts[name][g.source] = normalize(demark(p.read_text(encoding="utf-8", errors="replace")))
    md = results["versions"]["md"]
    for name in ("pdf", "docx"):
        v = results["versions"][name]
        v["ratio_hit@5"] = round(v["hit@5"] / md["hit@5"], 3) if md["hit@5"] else None
        lost = []
        for q in queries:
            r_md, r_v = md["ranks"].get(q.id), v["ranks"].get(q.id)
            if r_md is not None and r_md <= 5 and (r_v is None or r_v > 5):
                present = any(normalize(g.contains) in texts[name].get(g.source, "") for g in q.gold)
                lost.append({"id": q.id, "rank": r_v, "why": "ranking lost: gold text present" if present
                             else "text lost in conversion: gold text not in the converted file"})
        v["lost"] = lost
        v["gained"] = [q.id for q in queries if (v["ranks"].get(q.id) or 99) <= 5 < (md["ranks"].get(q.id) or 99)]
    return results


# ---------------------------------------------------------------- registers: hjson vs xlsx vs IP-XACT

def parse_registers_md(text: str) -> list[dict]:
    """reggen registers (name, desc, offset, resval, fields) back from its rendered registers.md."""
    regs, cur, field_desc = [], None, None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## ") and line[3:].strip() != "Summary":
            cur = {"name": line[3:].strip(), "desc": "", "offset": None, "fields": [], "_fdesc": {}}
            regs.append(cur)
            field_desc = None
        elif cur is not None and line.startswith("### ") and " . " in line:
            field_desc = line[4:].split(" . ", 1)[1].strip()
            cur["_fdesc"][field_desc] = {"desc": "", "enum": []}
        elif cur is not None and (m := re.match(r"- Offset: `(0x[0-9a-f]+)`", line)):
            cur["offset"] = int(m.group(1), 16)
        elif cur is not None and line.startswith("|") and re.match(r"\|\s*Bits\s*\|", line):
            header = [c.strip().lower() for c in line.strip("|").split("|")]
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = dict(zip(header, (c.strip() for c in lines[i].strip("|").split("|"))))
                name = _LINK.sub(r"\1", cells.get("name", ""))
                if name and name.lower() != "reserved":
                    cur["fields"].append({"bits": cells["bits"], "name": name, "swaccess": cells.get("type", ""),
                                          "resval": "" if cells.get("reset", "x") == "x" else cells.get("reset", ""),
                                          "desc": demark(cells.get("description", ""))})
                i += 1
            continue
        elif cur is not None and field_desc and line.startswith("|") and not re.match(r"\|\s*(Value|:)", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) >= 2 and not set(cells[0]) <= set(":-"):
                cur["_fdesc"][field_desc]["enum"].append({"value": cells[0], "name": cells[1],
                                                          "desc": cells[2] if len(cells) > 2 else ""})
        elif cur is not None and line.strip() and not line.startswith(("-", "#", "|", "`", "{", "<")):
            if field_desc:
                cur["_fdesc"][field_desc]["desc"] += " " + line.strip()
            elif cur["offset"] is None:
                cur["desc"] += " " + line.strip()
        i += 1
    for reg in regs:
        extra = reg.pop("_fdesc")
        for f in reg["fields"]:
            more = extra.get(f["name"]) or extra.get(f["name"].upper()) or {}
            f["desc"] = (f["desc"] or demark(more.get("desc", ""))).strip()
            if more.get("enum"):
                f["enum"] = more["enum"]
        reg["desc"] = demark(reg["desc"]).strip()
    return [r for r in regs if r["offset"] is not None]


def to_hjson(ip: str, regs: list[dict]) -> str:
    import hjson

    items, addr = [], 0
    for r in regs:
        if r["offset"] != addr:
            items.append({"skipto": hex(r["offset"])})
        items.append({"name": r["name"], "desc": r["desc"], "swaccess": (r["fields"] or [{}])[0].get("swaccess", ""),
                      "fields": r["fields"]})
        addr = r["offset"] + 4
    return hjson.dumps({"name": ip, "regwidth": "32", "registers": items}, indent=2)


def to_xlsx(ip: str, regs: list[dict], path: Path) -> None:
    """Register row (name, offset, description) then one row per field, with the register cell left blank."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Register map"
    ws.append([f"{ip} register map (generated from its reggen description)"])
    ws.append(["Reg Name", "Address Offset", "Field Name", "Bit Range", "SW Access", "Default", "Description"])
    for r in regs:
        ws.append([r["name"], hex(r["offset"]), None, None, None, None, r["desc"]])
        for f in r["fields"]:
            desc = f["desc"] + ("".join(f" {e['value']} = {e['name']}" for e in f.get("enum", [])))
            ws.append([None, None, f["name"], f["bits"], f["swaccess"], f["resval"], desc])
    wb.save(path)


def to_ipxact(ip: str, regs: list[dict]) -> str:
    from xml.sax.saxutils import escape

    from corpora.formats.registers import parse_bits

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<ipxact:component xmlns:ipxact="http://www.accellera.org/XMLSchema/IPXACT/1685-2014">',
           f"<ipxact:vendor>lowrisc.org</ipxact:vendor><ipxact:library>ip</ipxact:library>"
           f"<ipxact:name>{ip}</ipxact:name><ipxact:version>1.0</ipxact:version>",
           "<ipxact:memoryMaps><ipxact:memoryMap><ipxact:name>regs</ipxact:name><ipxact:addressBlock>"
           "<ipxact:name>core</ipxact:name><ipxact:baseAddress>0</ipxact:baseAddress>"
           "<ipxact:range>0x1000</ipxact:range><ipxact:width>32</ipxact:width>"]
    for r in regs:
        out.append(f"<ipxact:register><ipxact:name>{escape(r['name'])}</ipxact:name>"
                   f"<ipxact:description>{escape(r['desc'])}</ipxact:description>"
                   f"<ipxact:addressOffset>{hex(r['offset'])}</ipxact:addressOffset><ipxact:size>32</ipxact:size>")
        for f in r["fields"]:
            msb, lsb = parse_bits(f["bits"])
            if lsb is None:
                continue
            desc = f["desc"] + "".join(f" {e['value']} = {e['name']}" for e in f.get("enum", []))
            reset = (f"<ipxact:resets><ipxact:reset><ipxact:value>{escape(f['resval'])}</ipxact:value>"
                     "</ipxact:reset></ipxact:resets>") if f["resval"] else ""
            out.append(f"<ipxact:field><ipxact:name>{escape(f['name'])}</ipxact:name>"
                       f"<ipxact:description>{escape(desc)}</ipxact:description>"
                       f"<ipxact:bitOffset>{lsb}</ipxact:bitOffset>{reset}"
                       f"<ipxact:bitWidth>{msb - lsb + 1}</ipxact:bitWidth>"
                       f"<ipxact:access>{escape(f['swaccess'])}</ipxact:access></ipxact:field>")
        out.append("</ipxact:register>")
    out.append("</ipxact:addressBlock></ipxact:memoryMap></ipxact:memoryMaps></ipxact:component>")
    return "\n".join(out)


def answers(question: dict, text: str) -> bool:
    """The chunk holds every ``must`` name and, when asked, the field's bits as a table cell (``| 9:8 |``) or as
    reggen writes them (``bits: "9:8"``): the same answer in any of the forms."""
    from retriever.evaluate import normalize

    text = normalize(text)
    if not all(normalize(m) in text for m in question["must"]):
        return False
    bits = question.get("bits")
    return not bits or re.search(rf'\|\s*{re.escape(bits)}\s*\||bits"?:\s*"?{re.escape(bits)}"?', text) is not None


def run_registers(args, tmp: Path) -> dict:
    from corpora.formats.hjson_regs import load_register_hjson
    from corpora.formats.ipxact import load_ipxact
    from corpora.formats.sheets import load_xlsx
    from retriever.build import build_index
    from retriever.index import Index

    questions = [json.loads(l) for l in Path(args.reg_queries).read_text().splitlines() if l.strip()]
    wanted = sorted({q["ip"] for q in questions})
    docs = sorted(Path(args.corpus).glob("opentitan/hw/ip/*/doc/registers.md"))
    others = [d for d in docs if d.parent.parent.name not in wanted]
    ips = wanted + [d.parent.parent.name for d in others[: max(0, args.reg_limit - len(wanted))]]
    forms = ("registers.md", "hjson (raw)", "hjson", "xlsx", "ip-xact")
    for f in forms:
        (tmp / "reg" / f).mkdir(parents=True)
    offsets_checked = offsets_wrong = 0
    for ip in ips:
        md = Path(args.corpus) / "opentitan" / "hw" / "ip" / ip / "doc" / "registers.md"
        regs = parse_registers_md(md.read_text(encoding="utf-8"))
        shutil.copy2(md, tmp / "reg" / "registers.md" / f"{ip}.md")
        raw = tmp / "reg" / "hjson (raw)" / f"{ip}.hjson"
        raw.write_text(to_hjson(ip, regs), encoding="utf-8")
        loaded = load_register_hjson(raw)
        (tmp / "reg" / "hjson" / f"{ip}.md").write_text(loaded.text, encoding="utf-8")
        for r in regs:  # the hjson loader recomputes offsets the reggen way: they must match the rendered doc
            offsets_checked += 1
            offsets_wrong += f"## {r['name']} @ {hex(r['offset'])}" not in loaded.text
        work = tmp / "reg" / f"{ip}.xlsx"
        to_xlsx(ip, regs, work)
        (tmp / "reg" / "xlsx" / f"{ip}.md").write_text(load_xlsx(work).text, encoding="utf-8")
        xml = tmp / "reg" / f"{ip}.xml"
        xml.write_text(to_ipxact(ip, regs), encoding="utf-8")
        (tmp / "reg" / "ip-xact" / f"{ip}.md").write_text(load_ipxact(xml).text, encoding="utf-8")
    results: dict = {"ips": ips, "offsets_checked": offsets_checked, "offsets_wrong": offsets_wrong, "forms": {}}
    for f in forms:
        build_index([tmp / "reg" / f], tmp / f"index-reg-{len(results['forms'])}", progress=False)
        index = Index.open(tmp / f"index-reg-{len(results['forms'])}")
        ranks = {}
        for q in questions:
            hits = index.search(q["query"], k=5)
            ranks[q["id"]] = next((i for i, h in enumerate(hits, 1) if Path(h.chunk.source).stem == q["ip"]
                                   and answers(q, h.chunk.title + "\n" + h.chunk.text)), None)
        results["forms"][f] = {"hit@5": round(sum(r is not None for r in ranks.values()) / len(questions), 3),
                               "hit@1": round(sum(r == 1 for r in ranks.values()) / len(questions), 3),
                               "ranks": ranks}
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--queries", default=str(QUERIES))
    ap.add_argument("--reg-queries", default=str(REG_QUERIES))
    ap.add_argument("--limit", type=int, default=20, help="Markdown distractor files besides the gold ones")
    ap.add_argument("--reg-limit", type=int, default=12, help="OpenTitan IPs in the register indexes")
    ap.add_argument("--parts", default="docs,registers")
    ap.add_argument("--keep", help="keep the converted corpora in this folder")
    args = ap.parse_args()
    out: dict = {"args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="fidelity-") as t:
        tmp = Path(args.keep) if args.keep else Path(t)
        if "docs" in args.parts:
            out["docs"] = run_docs(args, tmp)
            v = out["docs"]["versions"]
            print(f"docs hit@5: md {v['md']['hit@5']:.3f}  pdf {v['pdf']['hit@5']:.3f} ({v['pdf']['ratio_hit@5']}x)"
                  f"  docx {v['docx']['hit@5']:.3f} ({v['docx']['ratio_hit@5']}x)")
            for name in ("pdf", "docx"):
                for lost in v[name]["lost"]:
                    print(f"  lost in {name}: {lost['id']}: {lost['why']}")
        if "registers" in args.parts:
            out["registers"] = run_registers(args, tmp)
            r = out["registers"]
            print(f"register offsets recomputed from hjson: {r['offsets_checked'] - r['offsets_wrong']}"
                  f"/{r['offsets_checked']} match")
            for f, m in r["forms"].items():
                print(f"registers {f:14s} hit@1 {m['hit@1']:.3f}  hit@5 {m['hit@5']:.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "format_fidelity.json").write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {OUT / 'format_fidelity.json'}")


if __name__ == "__main__":
    main()
