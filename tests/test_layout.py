"""Where learned files live (adaptcommand.layout) and the manifests later steps find adapters by
(adaptcommand.adapters): paths follow the unit, never the packing of jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import REPO

from adaptcommand import costs, layout, scheduling
from adaptcommand.manifests import method_manifest, new_user_manifest, read_manifest, routes_of
from adaptcommand.methods import load_methods

TABLE = load_methods(REPO / "workflow" / "methods.yaml")
PERSONAS = [f"persona_{i:03d}" for i in range(5)]


def test_packs_name_jobs_and_cover_every_persona_once():
    assert scheduling.packs(PERSONAS, 2) == {
        "persona_000-persona_001": ["persona_000", "persona_001"],
        "persona_002-persona_003": ["persona_002", "persona_003"],
        "persona_004": ["persona_004"],
    }
    assert scheduling.packs(PERSONAS, 0) == {"persona_000-persona_004": PERSONAS}
    for size in (0, 1, 2, 3, 7):
        members = [p for pack in scheduling.packs(PERSONAS, size).values() for p in pack]
        assert members == PERSONAS


def test_an_evaluation_pack_holds_the_learned_methods_that_generate():
    """resources.eval_pack_size: per split, the methods that learn and generate share jobs of that
    many; the base (one untrained run) and routing (composed from its candidates) keep their own, and
    so does a method left alone in a pack."""
    test = ["base", "unified", "persona", "routing", "hybrid", "persona_swapped", "cluster"]
    by_split = {"test": test, "val": ["persona", "base"], "cold_start": []}
    assert scheduling.eval_packs(by_split, TABLE, 0) == {
        "test": {"unified-cluster": ["unified", "persona", "hybrid", "persona_swapped", "cluster"]}
    }
    assert scheduling.eval_packs(by_split, TABLE, 2) == {
        "test": {
            "unified-persona": ["unified", "persona"],
            "hybrid-persona_swapped": ["hybrid", "persona_swapped"],
        }
    }
    assert scheduling.eval_packs(by_split, TABLE, 1) == {}
    files = layout.eval_files("test", "persona", "seed2")
    assert files == {
        "predictions": "results/eval/test/persona/seed2/predictions.jsonl",
        "per_persona": "results/eval/test/persona/seed2/per_persona.csv",
        "metrics": "results/eval/test/persona/seed2/metrics.json",
    }


def test_a_shared_job_is_split_between_the_methods_it_served(tmp_path):
    """A benchmark listed as [pattern, share] counts that share of it (an evaluation pack of 4 methods:
    each pays a quarter); a file matched twice counts once."""
    for name, wall, cpu in (("pack.tsv", 80.0, 60.0), ("train.tsv", 10.0, 9.0)):
        (tmp_path / name).write_text(f"s\tcpu_time\n{wall}\t{cpu}\n")
    assert costs.job_seconds([str(tmp_path / "train.tsv")]) == (10.0, 9.0)
    pack, train = str(tmp_path / "pack.tsv"), str(tmp_path / "train.tsv")
    assert costs.job_seconds([[pack, 0.25], train]) == (30.0, 24.0)
    assert costs.job_seconds([str(tmp_path / "*.tsv"), str(tmp_path / "train.tsv")]) == (90.0, 69.0)


def test_an_adapter_path_names_its_method_seed_and_unit_only():
    # whatever the pack size, persona_003's LoRA of seed 2 is models/persona/seed2/persona_003
    assert layout.unit_dir("persona", 2, "persona_003") == "models/persona/seed2/persona_003"
    assert layout.unit_dir("unified", "{seed}", layout.ALL) == "models/unified/seed{seed}/all"
    outputs = ["models/persona/seed1/persona_002", "models/persona/seed1/persona_003"]
    units, dirs = layout.units_of(outputs)
    assert units == {"persona_002": ["persona_002"], "persona_003": ["persona_003"]}
    assert dirs["persona_003"] == "models/persona/seed1/persona_003"
    units, _ = layout.units_of(["models/cluster/seed1/c1"], {"c1": ["persona_000", "persona_004"]})
    assert units == {"c1": ["persona_000", "persona_004"]}
    # a method that learns has one run per seed, the base one untrained run
    assert layout.runs(TABLE["hybrid"], [1, 2, 3]) == ["seed1", "seed2", "seed3"]
    assert layout.runs(TABLE["base"], [1, 2, 3]) == ["untrained"]
    assert layout.seed_number("seed2") == 2 and layout.draw_of("seed2") == "2"


def test_which_manifest_an_evaluation_reads():
    assert layout.manifest_for("base", TABLE["base"], "test", "untrained") == []
    assert layout.manifest_for("routing", TABLE["routing"], "test", "seed1") == []
    assert layout.manifest_for("hybrid", TABLE["hybrid"], "val", "seed2") == [
        "models/hybrid/seed2/adapters.json"
    ]
    # new users: their own adapters where the method chooses some for them, else the shared one
    cluster = layout.manifest_for("cluster", TABLE["cluster"], "cold_start", "seed1")
    assert cluster == ["models/cluster/seed1/new_users.json"]
    unified = layout.manifest_for("unified", TABLE["unified"], "cold_start", "seed1")
    assert unified == ["models/unified/seed1/adapters.json"]


def test_a_methods_cost_is_the_rules_the_table_lists():
    assert costs.cost_rules("hybrid", TABLE, "test") == [
        "evaluate/test_hybrid",
        "train_unified",
        "train_hybrid",
    ]
    # new users served by a merge of their nearest known personas: the assignment and their merges too
    assert costs.cost_rules("merge_neighbors", TABLE, "cold_start")[-2:] == [
        "assign_new_users",
        "merge_neighbors_new_users",
    ]
    # routing: everything behind each candidate's val and test results, each rule once
    routing = costs.cost_rules("routing", TABLE, "test", ["unified", "hybrid"])
    assert routing == [
        "evaluate_routing/test_routing",
        "route",
        "evaluate/val_unified",
        "evaluate/test_unified",
        "train_unified",
        "evaluate/val_hybrid",
        "evaluate/test_hybrid",
        "train_hybrid",
    ]
    # the jobs of the configured runs only: a removed seed's files are not counted
    assert costs.benchmark_globs("train_persona", ["seed1", "untrained"]) == [
        "results/benchmarks/train_persona.tsv",
        "results/benchmarks/train_persona/[!s]*.tsv",
        "results/benchmarks/train_persona/seed1.tsv",
        "results/benchmarks/train_persona/seed1/*.tsv",
        "results/benchmarks/train_persona/untrained.tsv",
        "results/benchmarks/train_persona/untrained/*.tsv",
    ]


def _adapter(root: Path, method: str, unit: str, personas: list[str], weights: bytes = b"w") -> str:
    d = root / layout.unit_dir(method, 7, unit)
    d.mkdir(parents=True)
    (d / "adapter_model.safetensors").write_bytes(weights)
    recipe = {"adapter": "lora", "r": 4}
    (d / "train_log.json").write_text(
        json.dumps({"recipe": recipe, "seed": 7, "personas": personas, "best_epoch": 2})
    )
    return str(d)


def test_manifests_say_which_adapter_serves_whom(tmp_path):
    units = [_adapter(tmp_path, "persona", p, [p], p.encode()) for p in PERSONAS]
    doc = method_manifest(tmp_path / "persona.json", "persona", TABLE["persona"], PERSONAS, units=units)
    assert doc["units"]["persona_001"]["recipe"] == {"adapter": "lora", "r": 4}
    assert doc["units"]["persona_001"]["seed"] == 7 and doc["units"]["persona_001"]["best_epoch"] == 2
    assert routes_of(doc, ["persona_003"]) == {"persona_003": units[3]}
    # the negative control: the persona LoRAs, each persona given the next one's
    swapped = method_manifest(
        tmp_path / "swapped.json",
        "persona_swapped",
        TABLE["persona_swapped"],
        PERSONAS,
        borrowed=tmp_path / "persona.json",
    )
    got = routes_of(swapped, PERSONAS)
    assert got["persona_000"] == units[1] and got["persona_004"] == units[0]
    assert sorted(got.values()) == sorted(units) and all(got[p] != units[i] for i, p in enumerate(PERSONAS))
    # one adapter for everybody (scope all), new users included
    shared = method_manifest(
        tmp_path / "unified.json",
        "unified",
        TABLE["unified"],
        PERSONAS,
        units=[_adapter(tmp_path, "unified", "all", PERSONAS)],
    )
    assert set(routes_of(shared, ["persona_000", "persona_099"]).values()) == {
        str(tmp_path / "models/unified/seed7/all")
    }
    with pytest.raises(KeyError, match="persona has no adapter for"):
        routes_of(doc, ["persona_099"])
    # a changed adapter changes its manifest (what evaluation reads is what was trained)
    Path(units[0], "adapter_model.safetensors").write_bytes(b"retrained")
    again = method_manifest(tmp_path / "persona2.json", "persona", TABLE["persona"], PERSONAS, units=units)
    assert again["units"]["persona_000"]["digest"] != doc["units"]["persona_000"]["digest"]


def test_cluster_manifests_route_by_the_assignment_for_known_and_new_users(tmp_path):
    assignment = {"persona_000": "c0", "persona_001": "c1", "persona_002": "c0"}
    clusters = tmp_path / "assignments.json"
    clusters.write_text(json.dumps({"assignment": assignment}))
    units = [_adapter(tmp_path, "cluster", c, []) for c in ("c0", "c1")]
    doc = method_manifest(
        tmp_path / "m.json", "cluster", TABLE["cluster"], list(assignment), units=units, assignments=clusters
    )
    assert routes_of(doc, ["persona_001"]) == {"persona_001": units[1]}
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"assignment": {"persona_009": "c1"}}))
    served = new_user_manifest(
        tmp_path / "n.json",
        "cluster",
        TABLE["cluster"],
        ["persona_009"],
        known=tmp_path / "m.json",
        assignments=new,
    )
    assert routes_of(served, ["persona_009"]) == {"persona_009": units[1]}
    assert read_manifest(tmp_path / "n.json") == served


def test_a_new_pack_size_and_a_rerun_counts_the_new_packs_only(tmp_path):
    """After resources.pack_size 2 -> 3 and a re-run, the benchmark files of both pack sizes are on disk
    (named after their packs); the cost counts the jobs that made the adapters last, i.e. the new
    packs, whatever the configured size, and every file of a directory whose packs do not overlap."""
    import os

    root = tmp_path / "results/benchmarks/train_persona/seed1"
    root.mkdir(parents=True)
    old = {"persona_000-persona_001": 100.0, "persona_002-persona_003": 100.0, "persona_004": 50.0}
    new = {"persona_000-persona_002": 30.0, "persona_003-persona_004": 20.0}
    for i, (packs, t) in enumerate(((old, 1_000_000_000), (new, 2_000_000_000))):
        for label, wall in packs.items():
            f = root / f"{label}.tsv"
            f.write_text(f"s\tcpu_time\n{wall}\t{wall / 2}\n")
            os.utime(f, ns=(t + i, t + i))
    pattern = str(root / "*.tsv")
    assert costs.job_seconds([pattern]) == (50.0, 25.0)
    assert costs.method_costs({"gpu": [pattern]})["cost_gpu_job_s"] == 50.0
    # before the re-run (only the old packs on disk): all of them count
    for label in new:
        (root / f"{label}.tsv").unlink()
    assert costs.job_seconds([pattern]) == (250.0, 125.0)
    # clusters are units of their own: no two files cover the same one
    for name in ("c1.tsv", "c10.tsv", "c2.tsv"):
        (root / name).write_text("s\tcpu_time\n1.0\t1.0\n")
    clusters = [str(root / n) for n in ("c1.tsv", "c10.tsv", "c2.tsv")]
    assert costs.current_files(clusters) == sorted(clusters)
