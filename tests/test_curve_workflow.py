"""The learning curve end to end (tests/configs/curve-slice.yaml on the demo with a tiny base): two
budgets of each persona's history, 1 session and all 6, trained, evaluated on the same test turns and
compared; the summary is the full history's comparison; adding a budget plans only its own jobs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from helpers import REPO, effective_config, finished_run, planned_outputs, run_workflow

from adaptcommand import layout
from adaptcommand.data.io import load_splits

pytestmark = pytest.mark.workflow

CONFIGS = (
    REPO / "config" / "demo.yaml",
    REPO / "tests" / "configs" / "tiny-base.yaml",
    REPO / "tests" / "configs" / "curve-slice.yaml",
)
SLICE = effective_config(*CONFIGS)
METHODS = SLICE["eval"]["methods"]
HEAD = SLICE["compare"]["headline"]


def snakemake(workdir, *args, configfiles=CONFIGS, timeout=1800):
    return run_workflow(workdir, configfiles, *args, timeout=timeout)


@pytest.fixture(scope="module")
def curve_run(tmp_path_factory):
    return finished_run(tmp_path_factory, "curve", CONFIGS)


def test_one_session_of_history_is_a_budget_that_trains(curve_run):
    cut = load_splits(curve_run / layout.splits(1))
    full = load_splits(curve_run / layout.SPLITS)
    for pid, parts in cut["personas"].items():
        assert parts["train"] == full["personas"][pid]["train"][-1:]  # the most recent session
        assert (parts["val"], parts["test"]) == (full["personas"][pid]["val"], full["personas"][pid]["test"])
    for seed in SLICE["train"]["seeds"]:
        log = json.loads(
            (
                curve_run / layout.unit_dir("persona", layout.draw(seed, 1), "persona_000") / "train_log.json"
            ).read_text()
        )
        full_log = json.loads(
            (curve_run / layout.unit_dir("persona", seed, "persona_000") / "train_log.json").read_text()
        )
        assert 0 < log["train_tokens"] < full_log["train_tokens"] / 3  # 1 of 6 sessions


def test_the_curve_has_every_method_at_every_budget_on_the_same_turns(curve_run):
    curve = pd.read_csv(curve_run / layout.comparison("learning_curve.csv"))
    head = curve[curve["metric"] == HEAD]
    assert set(head["sessions"]) == {1, 6}
    assert set(head["method"]) == set(METHODS)
    assert head.groupby("method").size().eq(2).all()
    assert head[["mean", "ci_low", "ci_high"]].notna().all().all()  # 6 personas x 2 seeds: intervals
    others = head[head["method"] != "unified"]
    assert others[["diff", "diff_low", "diff_high"]].notna().all().all()
    assert (curve_run / layout.comparison("learning_curve.png")).stat().st_size > 10_000
    fingerprints = {
        json.loads(p.read_text())["targets_fingerprint"]
        for p in (curve_run / "results/eval/test").glob("*/*/metrics.json")
    }
    assert len(fingerprints) == 1  # every method at every budget on the same test turns
    summary_md = (curve_run / layout.comparison("summary.md")).read_text()
    assert (
        summary_md.startswith("Learning curve (1, 6 train sessions per user)")
        and "synthetic" in summary_md.split("\n")[0]
    )


def test_the_summary_is_the_full_historys_comparison_and_the_controls_run_there(curve_run):
    summary = pd.read_csv(curve_run / layout.comparison("summary.csv"), index_col="method")
    per_persona = [
        pd.read_csv(
            curve_run / layout.eval_files("test", "persona", f"seed{s}")["per_persona"],
            index_col="persona_id",
        )
        for s in SLICE["train"]["seeds"]
    ]
    expected = pd.concat(per_persona)[HEAD].mean()
    assert summary.loc["persona", f"{HEAD}_persona_mean"] == pytest.approx(expected)
    assert summary.loc["persona", "n_seeds"] == 2
    assert [
        c["name"] for c in json.loads((curve_run / layout.comparison("controls.json")).read_text())["checks"]
    ] == [
        "persona",
        "persona_swapped",
    ]
    assert not (curve_run / "results/eval/test/persona_swapped/seed1-n1").exists()  # a control: full only
    protocol = json.loads((curve_run / layout.comparison("protocol.json")).read_text())
    assert protocol["headline"] == HEAD and protocol["sessions"] == [1, "all"]


def test_a_finished_curve_is_a_no_op_and_adding_a_budget_plans_only_its_jobs(curve_run):
    proc = snakemake(curve_run, "-n")
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]
    more = curve_run / "overlay_budget3.yaml"
    more.write_text(yaml.safe_dump({"train": {"sessions": [1, 3, "all"]}}))
    proc = snakemake(curve_run, "-n", configfiles=(*CONFIGS, more))
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = planned_outputs(proc)
    assert "compare" in outputs and any(r.startswith("train_persona") for r in outputs), outputs
    for rule, files in outputs.items():
        if rule not in ("compare", "all"):
            assert all("-n3" in f for f in files), (rule, files)  # nothing of another budget again
