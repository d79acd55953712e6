"""Settings cross from the rules to the library as named sections and are built from exactly their
keys: an unknown key or a missing one is refused, naming the section (adaptcommand.settings)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml
from helpers import REPO

from adaptcommand.config_checks import load_config
from adaptcommand.data.splits import make_splits
from adaptcommand.prompts import PromptConfig
from adaptcommand.settings import (
    Clustering,
    DemoBase,
    Generation,
    Gguf,
    LoraRecipe,
    PrefixRecipe,
    Protocol,
    Retrieval,
    RoutingNoise,
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
    # what the rules pass of the other sections (rules/cluster.smk, routing.smk, base.smk, RETRIEVAL)
    assert Clustering.from_section(CONFIG["cluster"], "cluster").features == "behaviour"
    noise = {k: v for k, v in CONFIG["routing"].items() if k != "candidates"}
    assert RoutingNoise.from_section(noise, "routing").default == CONFIG["routing"]["default"]
    assert DemoBase.from_section(CONFIG["model"]["demo"], "model.demo").seed == 42
    assert Gguf.from_section(CONFIG["model"]["gguf"], "model.gguf").package == ""  # no conversion
    smollm2 = load_config(
        REPO / "config" / "config.yaml", REPO / "config" / "smollm2.yaml", workflow_dir=REPO
    )
    assert Gguf.from_section(smollm2["model"]["gguf"], "model.gguf").file.endswith(".gguf")
    retrieval = {
        "k": CONFIG["history"]["k"],
        "query_turns": CONFIG["eval"]["skip_assistant_turns"] + 1,
        "minilm": CONFIG["metrics"]["minilm"],
    }
    assert Retrieval.from_section(retrieval, "retrieval").k == CONFIG["history"]["k"]


def _schema_properties(path: tuple[str, ...]) -> dict:
    node = SCHEMA
    for key in path:
        node = node["properties"][key]
    return node["properties"]


@pytest.mark.parametrize(
    "cls, path, left_out",
    [
        (Clustering, ("cluster",), ()),
        (RoutingNoise, ("routing",), ("candidates",)),  # params.noise of rules/routing.smk
        (DemoBase, ("model", "demo"), ()),
        (Gguf, ("model", "gguf"), ()),
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


def _dialog(pid: str, sid: int, value: int) -> dict:
    topic = ("lights to {v}% brightness", "AC to {v} degrees")[int(pid[-1]) % 2].format(v=value)
    return {
        "persona_id": pid,
        "session_id": sid,
        "character": f"{pid} is a person.",
        "routines": [],
        "meta": {},
        "messages": [
            {"role": "user", "text": f"Please set the {topic.split()[0]} for session {sid}."},
            {"role": "assistant", "text": f"Setting the {topic}."},
        ],
        "applied_routines": None,
    }


def test_the_library_takes_a_section_typed_as_a_mapping_or_as_the_rule_scripts_pass_it(monkeypatch):
    """The rule scripts (frozen by their digests) pass some sections' values one by one; the library
    entry points take the typed section or its mapping alike, and refuse a mapping's unknown key."""
    import numpy as np

    from adaptcommand.clusters import cluster_personas
    from adaptcommand.metrics.scoring import score_turns
    from adaptcommand.retrieval import retrieve_for_split
    from adaptcommand.routing import within_noise

    dialogs = [_dialog(f"persona_00{p}", s, 10 + s) for p in range(4) for s in range(10)]
    splits, personas = make_splits(dialogs, 0.6, 0.2), [f"persona_00{p}" for p in range(4)]

    section = {"features": "behaviour", "k": 2, "k_min": 2, "k_max": 3}
    loose = cluster_personas(dialogs, splits, personas, features="behaviour", k=2, k_min=2, k_max=3, seed=0)
    assert cluster_personas(dialogs, splits, personas, section, seed=0) == loose
    assert cluster_personas(dialogs, splits, personas, Clustering(**section), seed=0) == loose
    with pytest.raises(SettingsError, match=r"cluster: unknown key\(s\) \['kk'\]"):
        cluster_personas(dialogs, splits, personas, {**section, "kk": 1}, seed=0)

    def encode(texts):
        vecs = np.array([[t.count("lights"), t.count("AC"), 0.1] for t in texts])
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    section = {"k": 2, "query_turns": 1, "minilm": "unused: encode is given"}
    loose = retrieve_for_split(dialogs, splits, "val", personas, 2, query_turns=1, encode=encode)
    assert retrieve_for_split(dialogs, splits, "val", personas, section, encode=encode) == loose
    assert retrieve_for_split(dialogs, splits, "val", personas, Retrieval(**section), encode=encode) == loose

    def rows(right: set[int]) -> list[dict]:
        out = []
        for s in range(6):
            ref = "Setting the lights to 30% brightness."
            pred = ref if s in right else "Setting the lights to 80% brightness."
            (sc,) = score_turns([pred], [ref], numeric_tolerance=0)
            out.append({"persona_id": "p1", "session_id": s, "turn_index": 0, "kind": "routine", **sc})
        return out

    choice = {"candidates": ["a", "b"], "metric": "routine_param_f1", "personas": {"p1": {"method": "b"}}}
    val = {"a": rows({0}), "b": rows({0, 1, 2, 3})}
    section = {"default": "a", "confidence": 0.9, "resamples": 60}
    loose = within_noise(copy.deepcopy(choice), val, "a", 0.9, 60, 3)  # as rules/route.py calls it
    assert within_noise(copy.deepcopy(choice), val, section, seed=3) == loose
    assert within_noise(copy.deepcopy(choice), val, RoutingNoise(**section), seed=3) == loose
    with pytest.raises(SettingsError, match=r"routing: unknown key\(s\) \['candidates'\]"):
        within_noise(copy.deepcopy(choice), val, {**section, "candidates": ["a", "b"]}, seed=3)

    import adaptcommand.model.convert as convert

    calls = []
    monkeypatch.setattr(convert, "package_file", lambda package, name: f"{package}/{name}")
    monkeypatch.setattr(convert, "package_version", lambda package: "1.0")
    monkeypatch.setattr(convert, "convert_gguf", lambda *args, **kwargs: calls.append((args, kwargs)))
    section = {"package": "pkg", "file": "m.gguf", "atol": 0.001}
    convert.convert_package_gguf("pkg", "m.gguf", "out", atol=0.001)  # as convert_gguf.py calls it
    convert.convert_package_gguf(section, out_dir="out")
    convert.convert_package_gguf(Gguf(**section), out_dir="out")
    assert calls[0] == calls[1] == calls[2] and calls[0][1]["atol"] == 0.001
    with pytest.raises(SettingsError, match=r"model.gguf: missing key\(s\) \['atol'\]"):
        convert.convert_package_gguf({"package": "pkg", "file": "m.gguf"}, out_dir="out")


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
