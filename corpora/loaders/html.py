"""HTML: readable text with headings rewritten as Markdown (``#``..``######``) and table rows as pipes, so the
one heading-aware chunker serves HTML as it does Markdown."""
from __future__ import annotations

import re
from pathlib import Path

from corpora.loaders.registry import Loaded, read_text, register


def html_to_text(html: str) -> tuple[str, str | None]:
    """Readable text from HTML with headings as Markdown (#..######) and table rows as pipes; (text, title)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else None
    for level in range(1, 7):
        for h in soup.find_all(f"h{level}"):
            h.replace_with(f"\n\n{'#' * level} {h.get_text(' ', strip=True)}\n\n")
    for tr in soup.find_all("tr"):
        cells = [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
        tr.replace_with("| " + " | ".join(cells) + " |\n")
    for tag in soup.find_all(["p", "li", "pre", "div", "br"]):
        tag.insert_after("\n")
    text = soup.get_text()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text, title


@register("html", suffixes=(".html", ".htm"), generated_header=False)
def load(path: Path) -> Loaded:
    """The page's text and its ``<title>``."""
    raw = read_text(path)
    text, title = html_to_text(raw.text)
    return Loaded(text, title, meta=raw.meta)
