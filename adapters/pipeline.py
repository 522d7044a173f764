"""Run the adaptation stages of a recipe in order (tiny base -> tokenizer -> DAPT -> gen-data -> SFT -> export ->
AutoEval), each reading the previous stage's folder under `output_dir`, and write report.json / report.md.

Run: `chipassist adapt run RECIPE [--set key=value ...]` or, on GPUs,
`accelerate launch --config_file adapters/recipes/accelerate_fsdp.yaml -m adapters.pipeline RECIPE --stage dapt`.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from adapters.config import Recipe, RecipeError, load_recipe


class Pipeline:
    """Stage runners over one recipe; each returns its report and records it in `self.report`."""

    def __init__(self, recipe: Recipe, log=print):
        self.r, self.log, self.out = recipe, log, Path(recipe.output_dir)
        self.report: dict = {"recipe": recipe.name, "stages": {}}

    # folders each stage writes
    def _dir(self, stage: str) -> Path:
        return self.out / stage

    def base_dir(self) -> Path:
        """The base model folder: ``model.base``, or a tiny model built (once) in the run folder."""
        if self.r.model.base is not None:
            if not Path(self.r.model.base).is_dir():
                raise RecipeError(f"model.base: {self.r.model.base} is not a folder")
            return Path(self.r.model.base)
        base = self._dir("base")
        if not (base / "config.json").is_file():
            if self.r.model.tiny is None:
                raise RecipeError("model: a training run needs model.base or model.tiny (config_json is dry-run only)")
            from adapters.data import load_general
            from adapters.tiny import make_tiny_base
            general = load_general(self.r.data.general, self.r.data.max_general_chars)
            self.log(f"building tiny base from {len(general)} general documents ({self.r.data.general})")
            rep = make_tiny_base(base, general, self.r.model.tiny, self.r.seed)
            self.report["stages"]["base"] = rep
        return base

    def latest_model(self, *stages: str) -> Path:
        """The output of the first of ``stages`` that has produced a model, else the base model."""
        for s in stages:
            d = self._dir(s) / "model" if s in ("dapt", "sft") else self._dir(s)
            if (d / "config.json").is_file() or (d / "adapter_config.json").is_file():
                return d
        return self.base_dir()

    def tokenizer(self) -> dict:
        """Stage: train a domain vocabulary on the corpus and extend the base tokenizer with it."""
        from adapters.data import load_domain, load_general
        from adapters.tokenizer import augment_folder
        domain = load_domain(self.r.data.domain_roots, self.r.data.acl_groups)
        by_kind: dict[str, list[str]] = {}
        for k, t in domain:
            by_kind.setdefault(k, []).append(t)
        general = load_general(self.r.data.general, self.r.data.max_general_chars)
        base = self.base_dir()
        return augment_folder(base, self._dir("tokenizer"), by_kind, general, self.r.tokenizer, base)

    def dapt(self) -> dict:
        """Stage: domain-adaptive pretraining on the corpus mixed with general text."""
        from adapters.dapt import run_dapt
        return run_dapt(self.r, self.latest_model("tokenizer"), self._dir("dapt"), self._log_step)

    def gen_data(self) -> dict:
        """Stage: generate SFT samples from the corpus (teacher or document structure)."""
        from adapters.gendata import generate
        return generate(self.r.data.domain_roots, self.r.gendata, self._dir("gendata") / "sft.jsonl",
                        acl_groups=self.r.data.acl_groups)

    def sft(self) -> dict:
        """Stage: supervised fine-tuning on the generated samples mixed with general instructions."""
        from transformers import AutoTokenizer

        from adapters.sft import run_sft
        base_vocab = len(AutoTokenizer.from_pretrained(self.base_dir()))
        return run_sft(self.r, self.latest_model("dapt", "tokenizer"), self._dir("gendata") / "sft.jsonl",
                       self._dir("sft"), base_vocab, self._log_step)

    def export(self) -> dict:
        """Stage: save the adapted model for serving (`vllm serve`)."""
        from adapters.export import export
        return export(self.latest_model("sft", "dapt", "tokenizer"), self._dir("export"), self.r.export.dtype,
                      self.r.export.tensor_parallel_size)

    def autoeval(self) -> dict:
        """Stage: score the base and the adapted model on the same AutoEval sets and held-out text."""
        from adapters.autoeval import run_autoeval
        from adapters.data import load_domain, split_heldout
        _, held = split_heldout([t for _, t in load_domain(self.r.data.domain_roots, self.r.data.acl_groups)], self.r.data.heldout_fraction)
        out = {}
        for name, d in (("base", self.latest_model("tokenizer")), ("adapted", self.latest_model("sft", "dapt"))):
            out[name] = run_autoeval(d, self.r.autoeval.mc_files, held, self.r.autoeval.shots,
                                     self.r.dapt.block_size, self.r.autoeval.max_heldout_blocks)
        return out

    def _log_step(self, rec: dict) -> None:
        if rec.get("event") != "step" or rec["step"] % 10 == 0 or rec["step"] == 1:
            self.log(json.dumps(rec))

    def preflight(self, stages: list[str]) -> None:
        """Cheap checks of every input the stages name, so bad input fails before any compute."""
        for root in self.r.data.domain_roots:
            if not Path(root).exists():
                raise RecipeError(f"data.domain_roots: {root} does not exist")
        if self.r.model.base is not None and not (Path(self.r.model.base) / "config.json").is_file():
            raise RecipeError(f"model.base: {self.r.model.base} has no config.json (missing or not a HF model)")
        for f in self.r.autoeval.mc_files if "autoeval" in stages else []:
            if not Path(f).is_file():
                raise RecipeError(f"autoeval.mc_files: {f} not found")
        if "gen-data" in stages and self.r.gendata.teacher is not None:
            from adapters.gendata import check_teacher

            check_teacher(self.r.gendata.teacher)  # a dead teacher must not be found after hours of DAPT

    def run(self, stages: list[str] | None = None) -> dict:
        """Check every stage can run (preflight), then run ``stages`` in order, reporting each."""
        stages = stages or self.r.stages
        self.preflight(stages)
        for stage in stages:
            t = time.perf_counter()
            self.log(f"== stage {stage}")
            rep = getattr(self, stage.replace("-", "_"))()
            rep["seconds"] = round(time.perf_counter() - t, 1)
            self.report["stages"][stage] = rep
            self.log(json.dumps(rep, default=str)[:2000])
            self.write_report()
        return self.report

    def write_report(self) -> None:
        """Write report.json and report.md into the run folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "report.json").write_text(json.dumps(self.report, indent=2, default=str))
        (self.out / "report.md").write_text(summary_markdown(self.report))


def summary_markdown(report: dict) -> str:
    """The effects the tiny recipe must show, one line each."""
    s = report["stages"]
    lines = [f"# Adaptation report: {report['recipe']}", ""]
    if "tokenizer" in s:
        t = s["tokenizer"]
        lines.append(f"- tokenizer: +{t['added']} tokens; tokens/1k chars before -> after (change %):")
        lines += [f"  - {k}: {t['before'][k]} -> {t['after'][k]} ({t['change_pct'][k]:+.2f}%)" for k in t["before"]]
    if "dapt" in s and s["dapt"]["eval"]:
        e = s["dapt"]["eval"]
        lines.append(f"- DAPT held-out perplexity before -> after: domain {e['before']['domain_ppl']} -> "
                     f"{e['after']['domain_ppl']}, general {e['before']['general_ppl']} -> {e['after']['general_ppl']}")
    if "gen-data" in s:
        lines.append(f"- gen-data ({s['gen-data']['source']}): {json.dumps(s['gen-data']['per_kind'])}")
    if "sft" in s:
        lines.append(f"- SFT loss (mean of first/last fifth of steps): {s['sft']['loss_first']} -> "
                     f"{s['sft']['loss_last']}")
    if "export" in s:
        lines.append(f"- export: {s['export']['folder']}; serve with `{s['export']['serve']}`")
    if "autoeval" in s:
        for name, r in s["autoeval"].items():
            if not isinstance(r, dict):
                continue
            acc = {f: v["overall"]["accuracy"] for f, v in r["mc"].items()}
            lines.append(f"- AutoEval {name}: MC accuracy {acc}, domain ppl {r.get('domain_ppl')}")
    lines.append(f"- seconds per stage: { {k: v.get('seconds') for k, v in s.items()} }")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python -m adapters.pipeline RECIPE [--stage S] [--set k=v]``: the entry point distributed
    launchers (accelerate, torchrun) start."""
    import argparse
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("recipe")
    ap.add_argument("--stage", action="append")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args(argv)
    Pipeline(load_recipe(a.recipe, a.set)).run(a.stage)


if __name__ == "__main__":
    main(sys.argv[1:])
