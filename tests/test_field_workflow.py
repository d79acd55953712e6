"""The field's methods (issue 28) added to a finished run (tests/configs/field-slice.yaml on the demo
with a tiny base): each re-plans only its own jobs and the comparison; all of them added run, are
scored on the same test turns as the rest, and merge-then-adapt serves the new users."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from helpers import REPO, effective_config, finished_run, planned_outputs, run_workflow

pytestmark = pytest.mark.workflow

CONFIGS = (
    REPO / "config" / "demo.yaml",
    REPO / "tests" / "configs" / "tiny-base.yaml",
    REPO / "tests" / "configs" / "field-slice.yaml",
)
SLICE = effective_config(*CONFIGS)
FIELD = ["retrieval", "persona_prompt", "oppu", "merge_adapt", "merge_neighbors_ties", "merge_neighbors_dare"]


# The rules the finished run's methods needed: nothing of theirs runs again.
SLICE_RULES = {"train_unified", "train_persona", "train_hybrid", "cluster_personas", "merge_neighbors"}


def snakemake(workdir, *args, configfiles=CONFIGS, timeout=1800):
    return run_workflow(workdir, configfiles, *args, timeout=timeout)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_run(tmp_path_factory, "field", CONFIGS)


def _with(workdir, methods: list[str]):
    path = workdir / f"overlay_{'_'.join(methods)}.yaml"
    path.write_text(yaml.safe_dump({"eval": {"methods": [*SLICE["eval"]["methods"], *methods]}}))
    return (*CONFIGS, path)


@pytest.mark.parametrize("method", FIELD)
def test_adding_a_field_method_plans_its_own_jobs_and_the_comparison(finished, method):
    """Its own jobs: its evaluation, manifests, card and training or merges (files under its name), and
    the jobs of the rules its row derives that the finished run did not need yet (the retrieval)."""
    from adaptcommand.config_checks import validated_config

    derived = validated_config(effective_config(*_with(finished, [method])), REPO)[method]["rules"]
    proc = snakemake(finished, "-n", configfiles=_with(finished, [method]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = planned_outputs(proc)
    assert "compare" in outputs, outputs
    for rule, files in outputs.items():
        if rule in ("compare", "all") or rule.split(".")[0] in derived and method not in rule:
            assert rule in ("compare", "all") or rule.split(".")[0] not in SLICE_RULES, rule
            continue
        assert all(f"/{method}/" in f or f.endswith(f"/{method}") for f in files), (rule, files)


def test_the_field_methods_run_on_the_same_turns_and_adapt_to_new_users(finished, tmp_path):
    configs = _with(finished, FIELD)
    proc = snakemake(finished, configfiles=configs)
    assert proc.returncode == 0, proc.stderr[-6000:]
    summary = pd.read_csv(finished / "results/comparison/summary.csv", index_col="method")
    assert set(FIELD) <= set(summary.index)
    assert summary.loc[FIELD, "n_turns"].nunique() == 1 == summary["n_turns"].nunique()
    assert (summary.loc[["retrieval", "persona_prompt"], "n_seeds"] == 1).all()  # untrained: one run
    new_users = pd.read_csv(finished / "results/comparison/cold_start.csv", index_col="method")
    assert "merge_adapt" in new_users.index
    proc = snakemake(finished, "-n", configfiles=configs)
    assert "Nothing to be done" in proc.stdout + proc.stderr
