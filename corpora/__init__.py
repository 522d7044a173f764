"""corpora: ingest and curate chip-design data (docs, RTL, Tcl, bug exports) into Documents and Chunks.

Data flows one way: corpora -> retriever/adapters -> assistant -> ui/slack. Nothing here imports those.
"""
from corpora.types import BugComment, BugRecord, Chunk, Document, PUBLIC

__all__ = ["BugComment", "BugRecord", "Chunk", "Document", "PUBLIC"]
