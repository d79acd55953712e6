"""The config checks' knowledge of the model matches the real thing, and the checks that apply to a
method follow from its row of the method table, never from its name."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from adaptcommand.config_checks import QWEN2_LINEAR_MODULES


def test_module_names_are_the_linear_layers_of_a_qwen2(tiny):
    """target_modules are checked against QWEN2_LINEAR_MODULES: exactly the names of the linear
    layers inside the decoder of the tiny Qwen2 the demo builds (Qwen2.5-0.5B shares the architecture)."""
    model = AutoModelForCausalLM.from_pretrained(tiny[0])
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and ".layers." in name
    }
    assert names == set(QWEN2_LINEAR_MODULES)


def test_a_converted_base_is_the_workflows_own_directory(tmp_path):
    """model.base inside models/ is refused as a user's directory (Snakemake would delete it), except
    where the workflow writes it: the demo base, or a GGUF conversion. Every job of the SmolLM2 config
    re-reads the config once the converted directory exists; it must pass then too."""
    from helpers import REPO

    from adaptcommand.config_checks import ConfigError, load_config, validated_config

    (tmp_path / "models" / "smollm2-135m-instruct").mkdir(parents=True)
    config = load_config(REPO / "config" / "config.yaml", REPO / "config" / "smollm2.yaml")
    validated_config(config, REPO, workdir=tmp_path)  # converted by the workflow: fine
    config = load_config(REPO / "config" / "config.yaml", REPO / "config" / "smollm2.yaml")
    config["model"]["gguf"] = {"package": "", "file": ""}
    with pytest.raises(ConfigError, match="is inside models/"):
        validated_config(config, REPO, workdir=tmp_path)  # a user's own directory there: refused


# ---- checks that follow from the method table's fields, never from a method's name -----------------


def _with_rows(tmp_path, rows: str):
    """A copy of the workflow's table and schemas with `rows` added (the directory validated_config reads)."""
    import shutil

    from helpers import REPO

    shutil.copytree(REPO / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    table = (REPO / "workflow" / "methods.yaml").read_text()
    (tmp_path / "workflow" / "methods.yaml").write_text(table + rows)
    return tmp_path


def _demo(**sections) -> dict:
    """The demo's config (12 evaluated personas, 3 new users) with `sections` merged in; no controls,
    no positive control (they need persona), unless given."""
    from helpers import REPO, effective_config

    config = effective_config(REPO / "config" / "demo.yaml")
    config["eval"]["controls"] = []
    config["compare"]["positive_control"] = ""
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    return config


def _problems(config: dict, workflow_dir) -> str:
    from adaptcommand.config_checks import ConfigError, validated_config

    try:
        validated_config(config, workflow_dir)
    except ConfigError as exc:
        return str(exc)
    return ""


CLUSTER_BIG = (
    "cluster_big: {role: method, adapter: lora, scope: cluster, start: base, cold_start: nearest_cluster, "
    "about: one bigger LoRA per cluster}\n"
)


def test_a_new_cluster_method_gets_the_cluster_checks(tmp_path):
    """A cluster-kind method added as a table row plus its recipe, alone in eval.methods: as many
    clusters as evaluated personas are refused for it, as for `cluster`; the same config without it
    is not refused (the check follows the table's scope, not a list of names)."""
    from adaptcommand.methods import load_methods

    workflow = _with_rows(tmp_path, CLUSTER_BIG)
    table = load_methods(workflow / "workflow" / "methods.yaml")
    assert table["cluster_big"]["rules"] == ["cluster_personas", "train_cluster_big"]
    config = _demo(eval={"methods": ["base", "cluster_big"]}, cluster={"k": 12})
    config["train"]["cluster_big"] = {**config["train"]["cluster"], "r": 32, "alpha": 64}
    assert "cluster.k = 12: needs fewer clusters than the 12 evaluated personas" in _problems(
        config, workflow
    )
    config["cluster"]["k"] = 4
    assert _problems(config, workflow) == ""
    config["cluster"]["k"] = 12
    config["eval"]["methods"] = ["base", "persona"]
    assert _problems(config, workflow) == ""
    config["eval"]["methods"] = ["base", "cluster_big"]
    del config["train"]["cluster_big"]
    assert "['cluster_big'] of workflow/methods.yaml are LoRAs without a recipe" in _problems(
        config, workflow
    )


def test_a_variant_of_a_cluster_method_gets_the_cluster_checks(tmp_path):
    """A variant is its method's row under its own name: its rules train it as train_<variant>, and the
    cluster checks apply to it."""
    from helpers import REPO

    config = _demo(
        variants={"cluster_r4": {"of": "cluster", "train": {"r": 4, "alpha": 8}}},
        eval={"methods": ["base", "cluster_r4"]},
        cluster={"k": 12},
    )
    assert "cluster.k = 12: needs fewer clusters" in _problems(config, REPO)
    config["cluster"]["k"] = 3
    from adaptcommand.config_checks import validated_config

    table = validated_config(config, REPO)
    assert table["cluster_r4"]["rules"] == ["cluster_personas", "train_cluster_r4"]
    assert table["cluster"]["rules"] == ["cluster_personas", "train_cluster"]


NEAREST_MERGE = (
    "nearest_merge: {role: method, adapter: merge, scope: persona, start: base, "
    "cold_start: nearest_personas, about: per persona a merge of its nearest others}\n"
)


@pytest.mark.parametrize(
    "merge, problem",
    [
        ({"neighbors_k": 20}, "merge.neighbors_k = 20: only 11 other personas are evaluated"),
        ({"neighbors_k": 7}, "merge.neighbors_k = 7: a new user's merge takes the 7 nearest of the 12 known"),
    ],
)
def test_a_renamed_neighbour_merge_gets_the_neighbors_k_checks(tmp_path, merge, problem):
    """A per-persona merge of nearest neighbours under another name (merge_neighbors not evaluated):
    merge.neighbors_k is checked against the evaluated and the known personas for it."""
    workflow = _with_rows(tmp_path, NEAREST_MERGE)
    config = _demo(eval={"methods": ["base", "persona", "nearest_merge"]}, merge=merge)
    found = _problems(config, workflow)
    assert problem in found and "nearest_merge" in found, found
    config["eval"]["methods"] = ["base", "persona"]
    assert _problems(config, workflow) == ""


def test_the_clustering_a_merge_reads_needs_no_more_clusters_than_personas(tmp_path):
    """A per-persona merge reads the clustering job's persona similarity: a fixed cluster.k above the
    evaluated personas (the job would fail) is refused for it; as many as the personas is not (the
    job runs), unlike for a method whose adapters are per cluster."""
    from helpers import REPO

    config = _demo(eval={"methods": ["base", "persona", "merge_neighbors"]}, cluster={"k": 13})
    assert "cluster.k = 13: the clustering that merge_neighbors read cannot make more" in _problems(
        config, REPO
    )
    config["cluster"]["k"] = 12
    assert _problems(config, REPO) == ""


@pytest.mark.parametrize(
    "row, sections, problem",
    [
        (  # a control that borrows another method's adapters needs that method evaluated
            "other_swapped: {role: control, adapter: swapped, scope: persona, start: base, about: x}\n",
            {"eval": {"methods": ["base", "unified"], "controls": ["other_swapped"]}},
            "eval.controls other_swapped needs persona in eval.methods",
        ),
        (  # a prompt with history: the new users' first sessions inside the train split
            "history_big: {role: method, adapter: lora, scope: all, start: base, cold_start: same, "
            "prompt: [history], about: x}\n",
            {"eval": {"methods": ["base", "history_big"]}, "history": {"cold_start_sessions": 40}},
            "history.cold_start_sessions = 40: a persona has only 30 train sessions",
        ),
        (  # a method that composes its candidates' predictions: candidates among the evaluated
            "route_again: {role: method, adapter: routing, scope: persona, start: base, about: x}\n",
            {"eval": {"methods": ["base", "persona", "route_again"]}},
            "routing.candidates = ['unified', 'persona', 'hybrid']: ['unified', 'hybrid'] are not in",
        ),
        (  # ... and no candidate that composes others' predictions itself
            "route_again: {role: method, adapter: routing, scope: persona, start: base, about: x}\n",
            {
                "eval": {"methods": ["base", "persona", "routing", "route_again"]},
                "routing": {"candidates": ["persona", "route_again"], "default": "persona"},
            },
            "routing.candidates: ['route_again'] compose other methods' predictions",
        ),
    ],
)
def test_the_checks_follow_the_kind_not_the_name(tmp_path, row, sections, problem):
    workflow = _with_rows(tmp_path, row)
    config = _demo(**sections)
    if "history_big" in row:
        config["train"]["history_big"] = dict(config["train"]["history"])
    assert problem in _problems(config, workflow)


@pytest.mark.parametrize(
    "variant, problem",
    [
        (
            {"merge": {"combination": "ties_svd"}},
            "variants.v.merge.combination = ties_svd: needs variants.v.merge.density",
        ),
        (
            {"merge": {"combination": "cat", "density": 0.5}},
            "variants.v.merge.density = 0.5: cat keeps every value of the updates",
        ),
        ({"merge": {"combination": "ties"}}, "variants.v.merge.combination: 'ties' is not one of"),
        (
            {"merge": {"combination": "ties_svd", "density": 1.5}},
            "variants.v.merge.density: 1.5 is greater than",
        ),
        ({"merge": {}}, "variants.v: no merge keys"),
        (
            {"train": {"r": 4}, "merge": {"combination": "svd"}},
            "variants.v.train: merge_neighbors is a merge",
        ),
    ],
)
def test_a_merge_no_combination_can_make_is_refused_before_any_job(variant, problem):
    """Merge variants: TIES / DARE need the share of values they keep, a combination that keeps every
    value refuses one, PEFT's A/B averages are refused; each problem names the key."""
    from helpers import REPO

    config = _demo(variants={"v": {"of": "merge_neighbors", **variant}}, eval={"methods": ["base", "v"]})
    assert problem in _problems(config, REPO)


def test_a_merge_variant_merges_with_its_own_settings():
    """A variant of a merge is the merge's row under its own name, with its merge keys."""
    from helpers import REPO

    from adaptcommand.config_checks import validated_config

    config = _demo(
        variants={"m_ties": {"of": "merge_neighbors", "merge": {"combination": "ties_svd", "density": 0.4}}},
        eval={"methods": ["base", "m_ties"]},
    )
    table = validated_config(config, REPO)
    assert table["m_ties"]["merge"] == {"combination": "ties_svd", "density": 0.4}
    assert table["m_ties"]["rules"] == ["train_persona", "cluster_personas", "m_ties"]
    assert "merge" not in table["merge_neighbors"]
    config = _demo(merge={"combination": "dare_ties_svd"})
    assert "merge.combination = dare_ties_svd: needs merge.density" in _problems(config, REPO)
