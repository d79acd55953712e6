"""A user's history as a dimension (train.sessions): budgets in paths and data, what is refused before
any job, the learning curve and its crossover (on simulated data, with a check of the claim's error
rate), and `adaptcommand compare-runs`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import REPO

from adaptcommand import layout
from adaptcommand.compare.curve import (
    FROM_SMALLEST,
    NONE_IN_RANGE,
    by_budget,
    crossover_sentence,
    crossovers,
    learning_curve,
)
from adaptcommand.compare.runs import RunsError, compare_runs
from adaptcommand.config_checks import ConfigError, load_config, validated_config
from adaptcommand.data.splits import make_splits, with_budget
from adaptcommand.experiment import Experiment, history_budgets
from adaptcommand.settings import Protocol

PROTOCOL = Protocol(
    headline="routine_param_f1",
    second="similarity",
    references=("unified", "base"),
    positive_control="persona",
)


def demo_config(**train) -> dict:
    config = load_config(REPO / "config" / "config.yaml", REPO / "config" / "demo.yaml")
    config["train"].update(train)
    return config


# ---- budgets in paths and in the data -------------------------------------------------------------


def test_a_draw_is_a_seed_with_its_budget_and_the_full_history_keeps_todays_paths():
    assert layout.draw(2) == "2" and layout.draw(2, 6) == "2-n6"
    assert layout.run_of(layout.draw(2, 6)) == "seed2-n6"
    assert layout.seed_number("seed2-n6") == 2 and layout.seed_number("7") == 7
    assert layout.budget_of("seed2-n6") == 6 and layout.budget_of("seed2") is None
    assert layout.draw_of("seed2-n6") == "2-n6"
    assert (
        layout.unit_dir("persona", layout.draw(1, 3), "persona_000") == "models/persona/seed1-n3/persona_000"
    )
    assert layout.splits() == layout.SPLITS and layout.splits(3) == "data/splits/edgesplits-n3.json"
    assert layout.history("val") == "results/history/val.jsonl"
    assert layout.history("val", 3) == "results/history/val-n3.jsonl"


def test_a_budget_keeps_each_personas_most_recent_train_sessions_and_the_same_val_and_test():
    dialogs = [{"persona_id": p, "session_id": s} for p in ("persona_000", "persona_001") for s in range(10)]
    splits = make_splits(dialogs)  # 6 / 2 / 2
    cut = with_budget(splits, 2)
    for pid, parts in cut["personas"].items():
        assert parts["train"] == [4, 5]  # the two just before val
        assert parts["val"] == splits["personas"][pid]["val"]
        assert parts["test"] == splits["personas"][pid]["test"]
    assert cut["train_sessions"] == 2
    with pytest.raises(Exception, match="fewer than the budget 7"):
        with_budget(splits, 7)


def test_budgets_come_smallest_first_and_a_full_train_split_is_the_full_history():
    assert history_budgets(demo_config(sessions=[12, "all", 3])) == [3, 12, None]
    assert history_budgets(demo_config(sessions=[30, 6])) == [6, None]  # 30 of 30 train sessions
    assert history_budgets(demo_config(sessions=[6])) == [6]


def test_every_method_at_every_budget_the_controls_and_new_users_at_the_largest():
    config = demo_config(sessions=[3, "all"], seeds=[1, 2])
    table = validated_config(config, REPO, workdir=REPO)
    exp = Experiment(config, table)
    assert exp.draws() == ["1-n3", "2-n3", "1", "2"] and exp.full_draws == ["1", "2"]
    assert exp.runs("persona") == ["seed1-n3", "seed2-n3", "seed1", "seed2"]
    assert exp.runs("persona_swapped") == ["seed1", "seed2"]  # a control: the largest budget
    assert exp.runs("merge_neighbors", layout.COLD) == ["seed1", "seed2"]  # new users: the largest
    assert exp.runs("base") == ["untrained"]
    # nothing trained, but retrieving from the train sessions: one untrained run per budget, each
    # retrieving from its budget's sessions (the field's `retrieval`; persona_prompt is one run)
    assert exp.runs("retrieval") == ["untrained-n3", "untrained"] and exp.runs("persona_prompt") == [
        "untrained"
    ]
    assert exp.runs("retrieval", layout.COLD) == ["untrained"]
    assert exp.history_for("retrieval", "test", "untrained-n3") == ["results/history/test-n3.jsonl"]
    assert exp.history_for("retrieval", "test", "untrained") == ["results/history/test.jsonl"]
    # history: retrieved from the run's budget; the new users' from their own first sessions
    assert exp.history_for("history", "test", "seed1-n3") == ["results/history/test-n3.jsonl"]
    assert exp.history_for("history", layout.COLD, "seed1") == [layout.history(layout.COLD)]
    manifests, results = exp.stored()
    assert "models/persona/seed2-n3/adapters.json" in manifests
    assert layout.eval_files("test", "routing", "seed1-n3")["metrics"] in results
    assert "results/routing/seed2-n3/choices.json" in results


@pytest.mark.parametrize(
    ("sessions", "methods", "message"),
    [
        ([3, 40], None, "train.sessions: 40 is beyond the train split: a persona has 30 train sessions"),
        ([30, "all"], None, "30 and all are the same budget"),
        ([1, "all"], None, "history, oppu retrieve a train dialogue's exchanges from its persona's other"),
    ],
)
def test_budgets_no_method_can_learn_from_are_refused_before_any_job(sessions, methods, message):
    config = demo_config(sessions=sessions)
    with pytest.raises(ConfigError, match=message):
        validated_config(config, REPO, workdir=REPO)


def test_one_session_is_a_budget_for_methods_without_history():
    config = demo_config(sessions=[1, "all"])
    config["eval"]["methods"] = [m for m in config["eval"]["methods"] if m not in ("history", "oppu")]
    validated_config(config, REPO, workdir=REPO)


# ---- the learning curve on simulated data ----------------------------------------------------------


def simulated(gains: dict[str, dict[int, float]], n_personas=40, seeds=(1, 2, 3), noise=0.05, rng=None):
    """{method: {run: per-persona table}}: the reference `unified` at 0.3, `base` untrained at 0.2, each
    method of `gains` at 0.3 + gains[method][N] at budget N (N = 30: the full history)."""
    rng = rng or np.random.default_rng(0)
    personas = [f"persona_{i:03d}" for i in range(n_personas)]
    budgets = sorted({n for g in gains.values() for n in g})
    persona_effect = rng.normal(0, 0.1, n_personas)

    def table(mean):
        values = mean + persona_effect + rng.normal(0, noise, n_personas)
        return pd.DataFrame({"routine_param_f1": values, "stated_param_f1": values}, index=personas)

    tables = {"base": {"untrained": table(0.2)}, "unified": {}}
    for n in budgets:
        for s in seeds:
            run = layout.run_of(layout.draw(s, None if n == 30 else n))
            tables["unified"][run] = table(0.3)
            for m, g in gains.items():
                tables.setdefault(m, {})[run] = table(0.3 + g[n])
    return tables


def test_the_curve_pairs_each_budgets_runs_by_seed_and_puts_the_base_at_every_budget():
    tables = simulated({"persona": {3: 0.0, 30: 0.1}})
    at = by_budget(tables, full=30)
    assert sorted(at) == [3, 30]
    assert sorted(at[3]["persona"]) == ["seed1", "seed2", "seed3"]
    assert list(at[3]["base"]) == ["untrained"] and at[3]["base"] == at[30]["base"]


def test_an_untrained_row_that_retrieves_stands_at_its_own_budget_only():
    tables = {"base": {"untrained": "b"}, "retrieval": {"untrained-n3": "r3", "untrained": "r30"}}
    tables |= {"unified": {"seed1-n3": "u3", "seed1": "u30"}}
    out = by_budget(tables, 30)
    assert out[3]["retrieval"] == {"untrained": "r3"} and out[30]["retrieval"] == {"untrained": "r30"}
    assert out[3]["base"] == out[30]["base"] == {"untrained": "b"}


def test_the_crossover_is_the_smallest_budget_from_which_every_interval_lies_above_zero():
    gains = {
        "hybrid": {3: 0.1, 6: 0.1, 12: 0.1, 30: 0.1},  # always above
        "persona": {3: 0.0, 6: 0.1, 12: 0.1, 30: 0.1},  # from 6
        "flaky": {3: 0.1, 6: 0.0, 12: 0.1, 30: 0.1},  # above at 3, tied at 6: from 12
        "cluster": {3: 0.0, 6: 0.0, 12: 0.0, 30: 0.0},  # never
        "late": {3: 0.1, 6: 0.1, 12: 0.1, 30: 0.0},  # above, then tied at the full history: never
    }
    curve = learning_curve(simulated(gains), PROTOCOL, full=30)
    assert set(curve["sessions"]) == {3, 6, 12, 30}
    assert curve.loc[curve["method"] == "unified", "diff"].isna().all()  # the reference itself
    found = crossovers(curve, PROTOCOL.headline)
    assert found == {
        "base": NONE_IN_RANGE,
        "hybrid": FROM_SMALLEST,
        "persona": 6,
        "flaky": 12,
        "cluster": NONE_IN_RANGE,
        "late": NONE_IN_RANGE,
    }
    sentence = crossover_sentence(curve, PROTOCOL, synthetic=True)
    assert "persona from N = 6" in sentence and "hybrid from N = 3" in sentence
    assert "cluster never" in sentence and "synthetic" in sentence
    assert "synthetic" not in crossover_sentence(curve, PROTOCOL, synthetic=False)


def test_where_no_method_differs_a_crossover_is_claimed_in_at_most_5_percent_of_experiments():
    """The claim is one interval per budget (the summary's, coverage-tested in test_stats.py), all
    above 0: under no difference at any budget its error rate is at most that of the largest budget's
    one-sided 2.5%. Simulated: 300 experiments, 12 personas x 3 seeds, seed effects on every run."""
    rng = np.random.default_rng(11)
    claimed = 0
    for _ in range(300):
        tables = simulated({"persona": dict.fromkeys((3, 6, 12, 30), 0.0)}, n_personas=12, rng=rng)
        for runs in tables.values():  # each run its own shift: what a seed draws (init, order, ...)
            for run in runs:
                runs[run] = runs[run] + rng.normal(0, 0.03)
        found = crossovers(learning_curve(tables, PROTOCOL, full=30), PROTOCOL.headline)
        claimed += found["persona"] != NONE_IN_RANGE
    assert claimed / 300 <= 0.05


# ---- runs side by side --------------------------------------------------------------------------


def finished_run(root, base: str, fingerprint: str = "abc", headline: str = "routine_param_f1", curve=True):
    comparison = root / "results" / "comparison"
    comparison.mkdir(parents=True)
    protocol = dict(
        headline=headline, second="similarity", references=["unified", "base"], positive_control="persona"
    )
    (comparison / "protocol.json").write_text(
        json.dumps(protocol | dict(targets_fingerprint=fingerprint, base=base))
    )
    h = headline
    rows = {
        m: {"role": "method", f"{h}_persona_mean": v, f"{h}_ci_low": v - 0.05, f"{h}_ci_high": v + 0.05}
        for m, v in (("unified", 0.3), ("persona", 0.4), ("base", 0.2))
    }
    pd.DataFrame(rows).T.rename_axis("method").to_csv(comparison / "summary.csv")
    if curve:
        points = learning_curve(simulated({"persona": {3: 0.0, 30: 0.1}}), PROTOCOL, full=30)
        points.to_csv(comparison / "learning_curve.csv", index=False)
    return root


def test_runs_of_two_base_models_side_by_side(tmp_path):
    a = finished_run(tmp_path / "demo", "models/base")
    b = finished_run(tmp_path / "smollm2", "models/smollm2-135m-instruct", curve=False)
    table = compare_runs([str(a), str(b)], tmp_path / "out")
    assert set(table["run"]) == {"demo (base)", "smollm2 (smollm2-135m-instruct)"}
    assert len(table) == 6 and (tmp_path / "out" / "runs.png").stat().st_size > 0
    assert pd.read_csv(tmp_path / "out" / "runs.csv").shape[0] == 6


@pytest.mark.parametrize(
    ("change", "what"), [({"fingerprint": "xyz"}, "test turns"), ({"headline": "similarity"}, "headline")]
)
def test_runs_scored_on_other_test_turns_or_headline_are_refused(tmp_path, change, what):
    a = finished_run(tmp_path / "a", "models/base")
    b = finished_run(tmp_path / "b", "models/base", **change)
    with pytest.raises(RunsError, match=f"was not scored with the {what} of"):
        compare_runs([str(a), str(b)], tmp_path / "out")
    with pytest.raises(RunsError, match="not a finished comparison"):
        compare_runs([str(a), str(tmp_path)], tmp_path / "out")


def test_a_new_users_first_sessions_are_its_earliest_train_sessions():
    """with_first_sessions (a new user's first history.cold_start_sessions sessions, what merge-then-adapt
    trains on and retrieval retrieves from): the earliest train sessions; val and test untouched."""
    from adaptcommand.data.splits import with_first_sessions

    splits = {"personas": {"p": {"train": [4, 0, 2, 1, 3], "val": [5], "test": [6]}}}
    cut = with_first_sessions(splits, 2)
    assert cut["personas"]["p"] == {"train": [0, 1], "val": [5], "test": [6]}
    assert splits["personas"]["p"]["train"] == [4, 0, 2, 1, 3]
    with pytest.raises(ValueError):
        with_first_sessions(splits, 0)
