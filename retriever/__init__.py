"""retriever: embeddings, the FAISS + SQLite index with ACLs, BM25 hybrid search, reranking and fine-tuning."""
