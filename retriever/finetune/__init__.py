"""Domain fine-tuning of the dense retriever: generate query/chunk pairs from an index, train, compare.

``gen_pairs.generate_pairs`` -> ``train.train_model`` -> ``chipassist index --model FOLDER``;
CLI: ``chipassist retriever gen-pairs | train | eval`` (``assistant/cli/retriever_cmds.py``).
"""
