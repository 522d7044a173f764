"""Bug exports in a SQLite store, summaries (hierarchical with an LLM, a digest without) and owner ranking."""
