"""Every shipped recipe loads; bad recipes fail naming the field; dry runs estimate memory on the meta device."""
from pathlib import Path

import pytest

from adapters.config import RecipeError, load_recipe
from adapters.memory import estimate

RECIPES = sorted(Path("adapters/recipes").glob("*.yaml"))
RECIPES = [p for p in RECIPES if p.name != "accelerate_fsdp.yaml"]


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_recipe_loads(path):
    r = load_recipe(path)
    assert r.name and r.stages
    assert "Launch" in path.read_text().split("\n\n")[0] or "chipassist adapt" in path.read_text()


@pytest.mark.parametrize("name", ["llama2-13b", "llama3-8b"])
def test_real_recipes_carry_chipnemo_settings_and_dry_run(name):
    r = load_recipe(f"adapters/recipes/{name}.yaml")
    assert (r.dapt.lr, r.dapt.betas, r.dapt.weight_decay, r.dapt.global_batch_size, r.dapt.block_size) == \
        (5e-6, (0.9, 0.95), 0.01, 256, 4096)
    est = estimate(r)
    assert 7 < est["params_b"] < 14 and est["vocab"] % 64 == 0 and est["total_gib"] > est["states_gib"] > 0


def test_unknown_key_and_impossible_value_name_the_field(tmp_path):
    with pytest.raises(RecipeError, match="dapt.bogus"):
        load_recipe("adapters/recipes/tiny-cpu.yaml", ["dapt.bogus=1"])
    with pytest.raises(RecipeError, match="dapt.lr"):
        load_recipe("adapters/recipes/tiny-cpu.yaml", ["dapt.lr=-1"])
    with pytest.raises(RecipeError, match="global_batch_size"):
        load_recipe("adapters/recipes/tiny-cpu.yaml", ["dapt.global_batch_size=7", "dapt.micro_batch_size=2"])
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_dotted_override_applies():
    assert load_recipe("adapters/recipes/tiny-cpu.yaml", ["dapt.lr=0.5", "sft.method=lora"]).dapt.lr == 0.5


def test_dry_run_cli():
    from typer.testing import CliRunner

    from assistant.cli import app
    res = CliRunner().invoke(app, ["adapt", "dry-run", "adapters/recipes/llama2-13b.yaml"])
    assert res.exit_code == 0 and '"total_gib"' in res.output
    res = CliRunner().invoke(app, ["adapt", "dry-run", "adapters/recipes/llama2-13b.yaml", "--set", "x.y=1"])
    assert res.exit_code == 2


@pytest.mark.slow
def test_tiny_cpu_recipe_end_to_end(tmp_path):
    """The full tiny-cpu recipe (minutes): every stage runs and shows its effect in the report."""
    from adapters.pipeline import Pipeline
    rep = Pipeline(load_recipe("adapters/recipes/tiny-cpu.yaml", [f"output_dir={tmp_path}"]),
                   log=lambda m: None).run()["stages"]
    assert rep["tokenizer"]["after"]["docs"] < rep["tokenizer"]["before"]["docs"]
    assert rep["dapt"]["eval"]["after"]["domain_ppl"] < 0.7 * rep["dapt"]["eval"]["before"]["domain_ppl"]
    assert rep["sft"]["loss_last"] < rep["sft"]["loss_first"]
    assert (tmp_path / "export" / "config.json").is_file() and (tmp_path / "report.md").is_file()
