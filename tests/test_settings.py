"""Settings cross from the rules to the library as named sections and are built from exactly their
keys: an unknown key or a missing one is refused, naming the section (adaptcommand.settings)."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from helpers import REPO

from adaptcommand.config_checks import load_config
from adaptcommand.prompts import PromptConfig
from adaptcommand.settings import (
    DemoBase,
    Generation,
    LoraRecipe,
    PrefixRecipe,
    Protocol,
    SettingsError,
    plain,
    recipe_from,
)

CONFIG = load_config(REPO / "config" / "config.yaml", REPO / "config" / "demo.yaml", workflow_dir=REPO)
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_every_section_of_the_config_builds_its_settings():
    for name in ("unified", "persona", "hybrid", "cluster", "history"):
        assert isinstance(recipe_from(CONFIG["train"][name], f"train.{name}"), LoraRecipe)
    prefix = recipe_from(CONFIG["train"]["prefix"], "train.prefix")
    assert isinstance(prefix, PrefixRecipe) and prefix.adapter == "prefix"  # one field says which kind
    assert PromptConfig.from_section(CONFIG["prompt"]).system == CONFIG["prompt"]["system"]
    assert Protocol.from_section(CONFIG["compare"]).headline == "routine_param_f1"
    Generation.from_section({k: CONFIG["eval"][k] for k in ("max_new_tokens", "batch_size")})
    # what the demo rule passes of model.demo (rules/base.smk)
    assert DemoBase.from_section(CONFIG["model"]["demo"], "model.demo").seed == 42


def _schema_properties(path: tuple[str, ...]) -> dict:
    node = SCHEMA
    for key in path:
        node = node["properties"][key]
    return node["properties"]


@pytest.mark.parametrize(
    "cls, path, left_out",
    [
        (DemoBase, ("model", "demo"), ()),
    ],
)
def test_a_typed_section_has_the_keys_and_defaults_of_the_schema(cls, path, left_out):
    properties = _schema_properties(path)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert sorted(fields) == sorted(set(properties) - set(left_out))
    for name, f in fields.items():
        assert (f.default is dataclasses.MISSING) == ("default" not in properties[name]), name
        assert f.default == properties[name].get("default", dataclasses.MISSING), name


def test_a_recipe_is_recorded_in_the_order_of_its_fields():
    """train_log.json holds recipe.to_dict(): the shared training fields first, then the adapter's."""
    recipe = recipe_from(CONFIG["train"]["persona"], "train.persona")
    assert list(recipe.to_dict()) == [
        "lr",
        "epochs",
        "batch_size",
        "patience",
        "warmup_ratio",
        "weight_decay",
        "adapter",
        "r",
        "alpha",
        "dropout",
        "target_modules",
    ]


def test_the_demo_base_refuses_an_unknown_key_before_any_work(tmp_path):
    from adaptcommand.demo.base import build_demo_base

    demo = {**CONFIG["model"]["demo"], "hidden": 64}
    with pytest.raises(SettingsError, match=r"model.demo: unknown key\(s\) \['hidden'\]"):
        build_demo_base(str(tmp_path / "base"), PromptConfig(), demo, seed=0)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epoch": 3}, r"train.persona: unknown key\(s\) \['epoch'\]"),
        ({"system_prompt": "x"}, r"unknown key\(s\) \['system_prompt'\]"),
    ],
)
def test_an_unknown_key_is_refused(change, message):
    section = (
        {**CONFIG["train"]["persona"], **change} if "epoch" in change else {**CONFIG["prompt"], **change}
    )
    build = (lambda s: recipe_from(s, "train.persona")) if "epoch" in change else PromptConfig.from_section
    with pytest.raises(SettingsError, match=message):
        build(section)


def test_a_missing_key_is_refused_not_defaulted():
    recipe = dict(CONFIG["train"]["persona"])
    del recipe["lr"]
    with pytest.raises(SettingsError, match=r"train.persona: missing key\(s\) \['lr'\]"):
        recipe_from(recipe, "train.persona")
    with pytest.raises(SettingsError, match="adapter"):
        recipe_from({k: v for k, v in CONFIG["train"]["persona"].items() if k != "adapter"}, "train.persona")


def test_a_section_as_a_param_keeps_its_names_and_not_its_order():
    """plain(): sorted keys at every level, so Snakemake's params trigger sees a renamed or changed
    value but not a reordered section."""
    a = plain({"b": 1, "a": {"y": 2, "x": (1, 2)}})
    assert (
        repr(a) == repr(plain({"a": {"x": [1, 2], "y": 2}, "b": 1})) == "{'a': {'x': [1, 2], 'y': 2}, 'b': 1}"
    )
    assert repr(plain({"epochs": 6, "r": 8})) != repr(plain({"epochs": 8, "r": 6}))
