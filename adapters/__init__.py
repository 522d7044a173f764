"""adapters: domain-adapt an open LLM (tokenizer augmentation, DAPT, SFT, export for vLLM, AutoEval)."""
