"""A langchain-core ``BaseRetriever`` over a ChipAssist index, for LangChain chains and agents.

    from retriever.index import Index
    from retriever.langchain import ChipRetriever

    retriever = ChipRetriever(index=Index.open(".chipassist/index"), k=5, user_groups=["soc-team"])
    docs = retriever.invoke("how is the UART baud rate set?")

Each ``Document`` carries the chunk text as ``page_content`` and its source, title, kind, lines, ACL, id,
rank and scores as ``metadata``. The ACL filter is the index's own: ``user_groups=None`` means public only.
"""
from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retriever.types import SearchHit


def hit_to_document(hit: SearchHit) -> Document:
    """A search hit as a LangChain ``Document``: the chunk's text, its fields and scores in metadata."""
    c = hit.chunk
    meta = {**c.metadata, "id": c.id, "source": c.source, "title": c.title, "doc_type": c.doc_type,
            "kind": c.kind, "acl": list(c.acl), "start_line": c.start_line, "end_line": c.end_line, "rank": hit.rank,
            "score": hit.score, "scores": dict(hit.scores)}
    return Document(page_content=c.text, metadata=meta, id=c.id)


class ChipRetriever(BaseRetriever):
    """Retrieves chunks from a ``retriever.index.Index`` as LangChain Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any  # retriever.index.Index (kept Any so this module does not load FAISS on import)
    k: int = 5
    user_groups: list[str] | None = None
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    rerank: bool = False

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        groups = set(self.user_groups) if self.user_groups else None
        hits = self.index.search(query, k=self.k, user_groups=groups, mode=self.mode, rerank=self.rerank)
        return [hit_to_document(h) for h in hits]
