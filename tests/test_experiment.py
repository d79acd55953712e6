"""adaptcommand.experiment: what the demo's manifests and method cards are made of."""

from __future__ import annotations

import pytest
from helpers import REPO

from adaptcommand import layout
from adaptcommand.config_checks import load_config, validated_config
from adaptcommand.experiment import Experiment
from adaptcommand.layout import CLEAN, NEW_DIALOGS


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Experiment:
    config = load_config(REPO / "config" / "config.yaml", REPO / "config" / "demo.yaml")
    table = validated_config(config, REPO, workdir=tmp_path_factory.mktemp("work"))
    return Experiment(config, table)


def _no_clusters():
    raise AssertionError("asked for the clustering of a method that has no clusters")


def test_known_personas_and_new_users_are_disjoint(demo):
    # evaluate: 0 = every persona that is not a new user
    assert demo.config["personas"]["evaluate"] == 0 and len(demo.personas) == 12
    assert len(demo.new_users) == demo.config["personas"]["cold_start"] == 3
    assert not set(demo.personas) & set(demo.new_users)
    # only methods that can serve somebody they never trained on
    assert "persona" not in demo.new_user_methods and {"base", "unified", "cluster"} <= set(
        demo.new_user_methods
    )


def test_a_manifest_is_made_of_its_units_directories(demo):
    persona = demo.manifest_sources("persona", "adapters", "2", _no_clusters)
    assert persona == {"units": [layout.unit_dir("persona", "2", p) for p in demo.personas]}
    assert demo.manifest_sources("unified", "adapters", "1", _no_clusters) == {
        "units": [layout.unit_dir("unified", "1", layout.ALL)]
    }
    # the swapped control has no adapters of its own: the persona manifest of the same seed
    assert demo.manifest_sources("persona_swapped", "adapters", "3", _no_clusters) == {
        "borrowed": layout.manifest("persona", "3")
    }
    # a cluster-scope method waits for the seed's clustering, and names its assignments
    cluster = demo.manifest_sources("cluster", "adapters", "1", lambda: (["c0", "c1"], "assign.json"))
    assert cluster == {
        "units": ["models/cluster/seed1/c0", "models/cluster/seed1/c1"],
        "assignments": "assign.json",
    }
    # new users: served by the known clusters (nearest one), or by merges of their own
    new = demo.manifest_sources("cluster", "new_users", "1", _no_clusters)
    assert new == {
        "known": layout.manifest("cluster", "1"),
        "assignments": "results/cold_start/seed1/assignments.json",
    }
    merged = demo.manifest_sources("merge_neighbors", "new_users", "1", _no_clusters)
    assert merged == {"units": [layout.unit_dir("merge_neighbors", "1", p) for p in demo.new_users]}


def test_a_manifest_spec_names_whom_it_serves_and_the_model_under_it(demo):
    spec = demo.manifest_spec("hybrid", "adapters", "2")
    assert spec["personas"] == demo.personas and spec["merge"] == layout.unit_dir("unified", "2", layout.ALL)
    assert set(spec["entry"]) == {"adapter", "scope", "cold_start"}  # not its description
    assert demo.manifest_spec("merge_neighbors", "new_users", "2")["personas"] == demo.new_users
    assert demo.manifest_spec("persona", "adapters", "2")["merge"] == ""


def test_a_card_lists_what_chat_needs(demo):
    inputs = demo.card_inputs("cluster", "seed1", base=["models/base"])
    assert inputs["manifests"] == [layout.manifest("cluster", 1), layout.manifest("cluster", 1, "new_users")]
    assert (
        CLEAN in inputs["dialogs"] and NEW_DIALOGS in inputs["dialogs"] and inputs["base"] == ["models/base"]
    )
    card = demo.card("cluster", "seed1", retrieval={"k": 3})
    assert card["serves"][layout.manifest("cluster", 1)] == demo.personas
    assert card["serves"][layout.manifest("cluster", 1, "new_users")] == demo.new_users
    assert card["history"] is None  # no history in its prompts
    assert demo.card("history", "seed1", retrieval={"k": 3})["history"]["k"] == 3
    # routing composes its candidates: its card points at theirs and at its choices
    routing = demo.card_inputs("routing", "seed2", base=[])
    assert routing["choices"] == "results/routing/seed2/choices.json"
    assert routing["cards"] == [
        f"results/methods/{c}/seed2.json" for c in demo.config["routing"]["candidates"]
    ]
    assert set(demo.card("routing", "seed2", retrieval={})) == {"method", "about", "run"}
