"""Run the adaptation stages of a recipe in order (import or tiny base -> tokenizer -> DAPT -> gen-data -> SFT ->
export -> AutoEval -> serve), each reading the previous stage's folder under `output_dir`, and write report.json /
report.md / loss.png. A rerun of the same recipe skips the stages it finished and resumes training from the
last checkpoint.

Run: `chipassist adapt run RECIPE [--set key=value ...]` or, on GPUs,
`accelerate launch --config_file adapters/recipes/accelerate_fsdp.yaml -m adapters.pipeline RECIPE --stage dapt`.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Callable

from adapters.config import Recipe, RecipeError, load_recipe
from adapters.report import summary_markdown, write_loss_plot

# answer_fn(model_folder, question, max_tokens, backend) -> answer text; given by the caller (the assistant layer,
# which adapters must not import) for the `serve` stage
AnswerFn = Callable[[Path, str, int, str], str]


class Pipeline:
    """Stage runners over one recipe; each returns its report and records it in `self.report`."""

    def __init__(self, recipe: Recipe, log=print, answer_fn: AnswerFn | None = None):
        self.r, self.log, self.out, self.answer_fn = recipe, log, Path(recipe.output_dir), answer_fn
        self.report: dict = {"recipe": recipe.name, "stages": {}}
        prev = self.out / "report.json"
        if prev.is_file():  # keep what finished; a stage reruns only when a setting it depends on changed
            self.report = json.loads(prev.read_text())

    _ORDER = ("import", "tokenizer", "dapt", "gen-data", "sft", "export", "autoeval", "serve")

    def stage_key(self, stage: str) -> str:
        """Hash of the settings a stage's output depends on: model, data and every section up to it."""
        dump = self.r.model_dump(mode="json")
        upto = self._ORDER[: self._ORDER.index(stage) + 1]
        keep = {k: dump[k] for k in ("model", "data", "seed")}
        keep.update({s: dump.get(s.replace("-", "")) for s in upto})
        base = self.r.model.base
        if base is not None and Path(base).is_dir():
            # a base that is another run's export (round 2 of an SFT from round 1's) is redone in place: its
            # files' sizes and times stand for the weights (hashing gigabytes on every run would not do)
            keep["base_files"] = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns)
                                        for f in Path(base).iterdir() if f.is_file())
        if "gen-data" in upto and self.r.gendata.file is not None:  # an edited rows file is read again
            f = Path(self.r.gendata.file)
            keep["gendata_sha256"] = hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None
        if "autoeval" in upto:  # the question sets' contents, not only their names: an edited set is re-run
            from adapters.autoeval import mc_sets
            a = self.r.autoeval
            keep["mc_sha256"] = [hashlib.sha256(Path(f).read_bytes()).hexdigest() if Path(f).is_file() else None
                                 for f in mc_sets(a.mc_files, a.optional_mc_files)]
        return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]

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
        if not (base / "config.json").is_file() and self.r.model.gguf is not None:
            from adapters.gguf_import import import_gguf
            self.log(f"importing {self.r.model.gguf} into {base}")
            self.report["stages"]["import"] = import_gguf(self.r.model.gguf, base)
        if not (base / "config.json").is_file():
            if self.r.model.tiny is None:
                raise RecipeError("model: a training run needs model.base, model.gguf or model.tiny "
                                  "(config_json is dry-run only)")
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

    def import_base(self) -> dict:
        """The base model folder (imported from GGUF, or the tiny one built here)."""
        base = self.base_dir()
        return self.report["stages"].get("import") or {"folder": str(base)}

    def tokenizer(self) -> dict:
        """Augment the base tokenizer with domain tokens (ChipNeMo) and measure tokens per 1,000 characters
        on domain and held-out general text, before and after."""
        from adapters.data import load_general, recipe_domain
        from adapters.tokenizer import augment_folder
        domain = recipe_domain(self.r.data)
        by_kind: dict[str, list[str]] = {}
        for k, t in domain:
            by_kind.setdefault(k, []).append(t)
        general = load_general(self.r.data.general, self.r.data.max_general_chars)
        base = self.base_dir()
        return augment_folder(base, self._dir("tokenizer"), by_kind, general, self.r.tokenizer, base)

    def dapt(self) -> dict:
        """Stage: domain-adaptive pretraining on the corpus mixed with general text."""
        from adapters.dapt import run_dapt
        start = self.latest_model("tokenizer")
        return run_dapt(self.r, start, self._dir("dapt"), self._log_step, base_vocab=self._base_vocab(start))

    def gen_data(self) -> dict:
        """Stage: generate SFT samples from the corpus (teacher or document structure), or take them from
        ``gendata.file``."""
        if self.r.gendata.file is not None:
            from adapters.sft import copy_samples
            return copy_samples(self.r.gendata.file, self._dir("gendata") / "sft.jsonl")
        from adapters.gendata import generate
        return generate(self.r.data.roots(), self.r.gendata, self._dir("gendata") / "sft.jsonl",
                        acl_groups=self.r.data.acl_groups)

    def sft(self) -> dict:
        """Stage: supervised fine-tuning on the generated samples mixed with general instructions."""
        from adapters.sft import run_sft
        start = self.latest_model("dapt", "tokenizer")
        return run_sft(self.r, start, self._dir("gendata") / "sft.jsonl", self._dir("sft"), self._base_vocab(start),
                       self._log_step)

    def _base_vocab(self, start: Path) -> int | None:
        """The base tokenizer's size when ``start`` added tokens to it (their rows are trained), else None: a
        base whose embedding has padding rows beyond its tokenizer (Qwen2.5: 151,936 rows, 151,665 tokens)
        has nothing added, and its padding rows must not be trained."""
        from transformers import AutoTokenizer
        base = len(AutoTokenizer.from_pretrained(self.base_dir()))
        return base if len(AutoTokenizer.from_pretrained(start)) > base else None

    def export(self) -> dict:
        """Stage: save the adapted model for serving (`vllm serve`)."""
        from adapters.export import export
        rep = export(self.latest_model("sft", "dapt", "tokenizer"), self._dir("export"), self.r.export.dtype,
                     self.r.export.tensor_parallel_size)
        if self.r.export.gguf:
            from adapters.gguf_export import export_gguf
            if self.r.model.gguf is None:
                raise RecipeError("export.gguf: needs model.gguf (its metadata is copied into the exported GGUF)")
            rep["gguf"] = export_gguf(self._dir("export"), self.r.model.gguf, self._dir("export") / "model.gguf")
            if self.r.export.quantize:
                from adapters.gguf_export import quantize
                rep["quantized"] = quantize(self._dir("export") / "model.gguf", self.served_gguf(),
                                            self.r.export.quantize)
        return rep

    def served_gguf(self) -> Path:
        """The GGUF the serve stage (and a user's `llm.model_path`) loads: the quantized one when asked for."""
        q = self.r.export.quantize
        return self._dir("export") / (f"model.{q}.gguf" if q else "model.gguf")

    def autoeval(self) -> dict:
        """Base vs DAPT vs DAPT+SFT: MC accuracy per category, base-token-normalised held-out perplexity."""
        from transformers import AutoTokenizer

        from adapters.autoeval import heldout_chunks, mc_sets, run_autoeval
        from adapters.data import load_general, recipe_domain, split_heldout
        a, d = self.r.autoeval, self.r.data
        _, dom = split_heldout([t for _, t in recipe_domain(d)], d.heldout_fraction)
        _, gen = split_heldout(load_general(d.general, d.max_general_chars), d.heldout_fraction)
        held = {"domain": heldout_chunks(dom, a.heldout_chunks, a.chunk_chars),
                "general": heldout_chunks(gen, a.heldout_chunks, a.chunk_chars)}
        ref = AutoTokenizer.from_pretrained(self.base_dir())
        files = mc_sets(a.mc_files, a.optional_mc_files)
        out: dict = {"mc_files": [str(f) for f in files], "models": {}}
        models = {"base": self.base_dir()}
        from adapters.trainer import train_precision
        _, mixed = train_precision("float32", a.mixed_precision, self._log_step)  # bf16 autocast: native CPUs only
        out["mixed_precision"] = mixed
        for name, stage in (("dapt", "dapt"), ("dapt+sft", "sft")):
            if (self._dir(stage) / "model" / "config.json").is_file():
                models[name] = self._dir(stage) / "model"
            elif (self._dir(stage) / "model" / "adapter_config.json").is_file():
                models[name] = self._merged(stage)
        for name, folder in models.items():
            out["models"][name] = run_autoeval(folder, files, held, a.shots, ref, a.max_questions, mixed)
        return out

    def _merged(self, stage: str) -> Path:
        """A LoRA stage's adapter merged into a plain folder (AutoEval loads plain folders)."""
        from adapters.export import export
        dst = self._dir(stage) / "merged"
        export(self._dir(stage) / "model", dst, "float32")
        return dst

    def serve(self) -> dict:
        """Answer one question with the exported model through the assistant's backend (adapt -> serve)."""
        if self.answer_fn is None:
            raise RecipeError("stage serve: needs the assistant's LLM backend (run it with `chipassist adapt run`)")
        s = self.r.serve
        folder = self.served_gguf() if s.backend == "llamacpp" else self._dir("export")
        if not folder.exists():
            raise RecipeError(f"stage serve: {folder} not found (run the export stage first"
                              + (", with export.gguf: true)" if s.backend == "llamacpp" else ")"))
        t = time.perf_counter()
        answer = self.answer_fn(folder, s.question, s.max_tokens, s.backend)
        return {"backend": s.backend, "model": str(folder), "question": s.question, "answer": answer,
                "answer_seconds": round(time.perf_counter() - t, 1)}

    def _log_step(self, rec: dict | str) -> None:
        """Log a training record (every 10th step, and every other event) or a stage's message."""
        if isinstance(rec, str):
            self.log(rec)
            return
        if rec.get("event") != "step" or rec["step"] % 10 == 0 or rec["step"] == 1:
            self.log(json.dumps(rec))

    def preflight(self, stages: list[str]) -> None:
        """Cheap checks of every input the stages name, so bad input fails before any compute."""
        for root in self.r.data.roots():
            if not Path(root).exists():
                raise RecipeError(f"data.domain_roots: {root} does not exist")
        if self.r.model.base is not None and not (Path(self.r.model.base) / "config.json").is_file():
            raise RecipeError(f"model.base: {self.r.model.base} has no config.json (missing or not a HF model)")
        if "gen-data" in stages and self.r.gendata.file is not None:
            from adapters.sft import load_samples
            load_samples(Path(self.r.gendata.file))  # a bad rows file fails here, not after the import
        if self.r.model.gguf is not None and not (self._dir("base") / "config.json").is_file():
            from adapters.gguf_import import check_importable
            check_importable(self.r.model.gguf)
        for f in self.r.autoeval.mc_files if "autoeval" in stages else []:
            if not Path(f).is_file():
                raise RecipeError(f"autoeval.mc_files: {f} not found")
        if {"tokenizer", "dapt", "autoeval", "gen-data"} & set(stages):
            from adapters.data import recipe_domain
            recipe_domain(self.r.data)  # no domain text after the ACL filter: stop now, not after the import
        self._check_budgets(stages)
        if "gen-data" in stages and self.r.gendata.teacher is not None:
            from adapters.gendata import check_teacher

            check_teacher(self.r.gendata.teacher)  # a dead teacher must not be found after hours of DAPT

    def _check_budgets(self, stages: list[str]) -> None:
        timed = [s for s in ("dapt", "sft") if s in stages and getattr(self.r, s).time_budget_min]
        if not timed:
            return
        from adapters.trainer import check_step_fits, model_parameters
        if self.r.model.base is not None or (self._dir("base") / "config.json").is_file():
            n = model_parameters(self.base_dir())
        elif self.r.model.gguf is not None:
            n = model_parameters(self.r.model.gguf)
        else:
            return  # a tiny base is built here; nothing to measure yet
        for s in timed:
            check_step_fits(getattr(self.r, s), n, s)

    def run(self, stages: list[str] | None = None) -> dict:
        """Check every stage can run (preflight), then run ``stages`` in order, reporting each."""
        stages = stages or self.r.stages
        self.preflight(stages)
        for stage in stages:
            prev = self.report["stages"].get(stage, {})
            if prev.get("done") and prev.get("key") == self.stage_key(stage):
                self.log(f"== stage {stage}: done in an earlier run of this recipe (skipped)")
                continue
            t = time.perf_counter()
            self.log(f"== stage {stage}")
            rep = getattr(self, {"import": "import_base"}.get(stage, stage.replace("-", "_")))()
            rep["seconds"] = round(time.perf_counter() - t, 1)
            rep["done"], rep["key"] = True, self.stage_key(stage)
            self.report["stages"][stage] = rep
            self.log(json.dumps(rep, default=str)[:2000])
            self.write_report()
        return self.report

    def write_report(self) -> None:
        """Write report.json and report.md into the run folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        if write_loss_plot(self.report, self.out / "loss.png"):
            self.report["loss_plot"] = str(self.out / "loss.png")
        tmp = self.out / "report.json.tmp"
        tmp.write_text(json.dumps(self.report, indent=2, default=str))
        tmp.replace(self.out / "report.json")
        (self.out / "report.md").write_text(summary_markdown(self.report))


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
