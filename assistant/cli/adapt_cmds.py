"""`chipassist adapt ...`: the domain-adaptation stages (tokenizer, dapt, gen-data, sft, export, autoeval), `run`
for all of them and `dry-run` for real-scale recipes. Thin: each command loads the recipe and calls adapters/.
"""
from __future__ import annotations

from pathlib import Path

import typer

from assistant.cli.common import console, fail, print_json

RecipeArg = typer.Argument(..., help="YAML recipe (adapters/recipes/*.yaml).")
SetOpt = typer.Option([], "--set", help="Dotted override, e.g. --set dapt.lr=1e-4 (repeatable).")


def _answer(folder: Path, question: str, max_tokens: int, backend: str) -> str:
    """The `serve` stage's answer: the adapted model run by the assistant's own LLM backend (adapters sit below
    the assistant layer, so the pipeline is handed this function rather than importing it)."""
    from assistant.config import LLMConfig
    from assistant.llm import get_llm
    llm = get_llm(LLMConfig(backend=backend, model_path=folder, max_new_tokens=max_tokens, temperature=0.0))
    return llm.complete([{"role": "user", "content": question}], max_tokens=max_tokens)


def _pipeline(recipe: Path, overrides: list[str]):
    import os
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from adapters.config import RecipeError, load_recipe
    from adapters.pipeline import Pipeline
    try:
        return Pipeline(load_recipe(recipe, overrides), log=lambda m: console.print(m, markup=False),
                        answer_fn=_answer)
    except RecipeError as e:
        fail(str(e))


def _stage(recipe: Path, overrides: list[str], stages: list[str] | None) -> None:
    from adapters.config import RecipeError
    p = _pipeline(recipe, overrides)
    try:
        p.run(stages)
    except RecipeError as e:
        fail(str(e))
    console.print((p.out / "report.md").read_text(), markup=False)


def register(app: typer.Typer) -> None:
    """Add the `adapt` commands (one per recipe stage, `run`, `dry-run`) to ``app``."""
    adapt = typer.Typer(help="Domain-adapt an LLM: tokenizer, DAPT, SFT, instruction data, export, AutoEval.",
                        no_args_is_help=True)

    def add(name: str, stage: str, help: str):
        @adapt.command(name, help=help)
        def _cmd(recipe: Path = RecipeArg, set_: list[str] = SetOpt) -> None:
            _stage(recipe, set_, [stage])

    add("tokenizer", "tokenizer", "Augment the base tokenizer with domain tokens; resize + mean-init embeddings.")
    add("dapt", "dapt", "Domain-adaptive pretraining on packed domain + general blocks.")
    add("gen-data", "gen-data", "Build domain SFT data (teacher LLM or document structure).")
    add("sft", "sft", "Supervised fine-tuning, loss on assistant tokens only.")
    add("export", "export", "Merge LoRA, write a bf16 HF folder for vLLM and print the serve command.")
    add("serve", "serve", "Answer the recipe's serve.question with the exported model through the assistant backend.")
    add("autoeval", "autoeval", "Multiple-choice AutoEval (log-likelihood) and held-out domain perplexity.")

    @adapt.command("run", help="Run every stage of the recipe in order.")
    def run(recipe: Path = RecipeArg, set_: list[str] = SetOpt) -> None:
        _stage(recipe, set_, None)

    @adapt.command("dry-run", help="Load the recipe, build the model on the meta device, estimate memory per GPU.")
    def dry_run(recipe: Path = RecipeArg, set_: list[str] = SetOpt) -> None:
        from adapters.config import RecipeError
        from adapters.memory import estimate
        p = _pipeline(recipe, set_)
        if p.r.model.config_json is None:
            fail(f"{recipe}: model.config_json is needed for a dry run")
        try:
            print_json({"recipe": p.r.name, **estimate(p.r)})
        except RecipeError as e:
            fail(str(e))

    @adapt.command("import-gguf", help="Dequantize a GGUF model into a transformers safetensors folder (+ tokenizer).")
    def import_gguf_cmd(file: Path = typer.Argument(..., help="A .gguf model file (e.g. models/SmolLM2-135M-Instruct.Q4_1.gguf)."),
                        out: Path = typer.Option(..., "--out", help="Folder to write (replaced atomically).")) -> None:
        from adapters.config import RecipeError
        from adapters.gguf_import import import_gguf
        try:
            print_json(import_gguf(file, out))
        except RecipeError as e:
            fail(str(e))

    app.add_typer(adapt, name="adapt")
