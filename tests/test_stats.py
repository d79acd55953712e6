"""The comparison's intervals keep their coverage with personas AND training seeds as sources of
variation (simulated experiments with a planted persona effect and a planted seed-to-seed variance),
where an interval over personas alone does not."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from adaptcommand.compare.stats import crossed_estimate, detectable_difference, paired_bootstrap

N_EXPERIMENTS = 400
PERSONAS, SEEDS, TRUE_DIFF = 12, 3, 0.1


def _experiments(persona_sd: float, seed_sd: float, noise_sd: float, seed: int = 0):
    """Simulated per-persona differences (method minus reference) of N_EXPERIMENTS runs: a planted
    difference, a persona effect, a seed effect shared by every persona of a seed, and noise."""
    rng = np.random.default_rng(seed)
    for _ in range(N_EXPERIMENTS):
        yield (
            TRUE_DIFF
            + rng.normal(0, persona_sd, (PERSONAS, 1))
            + rng.normal(0, seed_sd, (1, SEEDS))
            + rng.normal(0, noise_sd, (PERSONAS, SEEDS))
        )


@pytest.mark.parametrize(
    "persona_sd, seed_sd, noise_sd",
    [(0.1, 0.05, 0.05), (0.05, 0.08, 0.02), (0.1, 0.0, 0.05), (0.02, 0.1, 0.02)],
)
def test_the_crossed_interval_keeps_its_coverage(persona_sd, seed_sd, noise_sd):
    covered = sum(
        (e := crossed_estimate(d)).low <= TRUE_DIFF <= e.high
        for d in _experiments(persona_sd, seed_sd, noise_sd)
    )
    assert covered / N_EXPERIMENTS >= 0.93, covered / N_EXPERIMENTS


def test_an_interval_over_personas_alone_misses_the_seed_variance():
    """The persona-only bootstrap of the per-persona seed means (what summary.csv had) covers far
    less than 95% when seeds vary: the negative control of the coverage test above."""
    covered = 0
    for d in _experiments(0.1, 0.05, 0.05, seed=1):
        table = pd.DataFrame({"m": d.mean(axis=1)})
        boot = paired_bootstrap(table, 1000, 0)
        covered += boot.loc["m", "ci_low"] <= TRUE_DIFF <= boot.loc["m", "ci_high"]
    assert covered / N_EXPERIMENTS < 0.85, covered / N_EXPERIMENTS


def test_few_units_get_no_interval_and_one_seed_is_a_t_interval():
    d = np.array([[0.1], [0.2], [0.3]])
    e = crossed_estimate(d)
    assert e.mean == pytest.approx(0.2) and not e.has_interval and e.n_personas == 3
    x = np.linspace(0, 1, 8)
    one = crossed_estimate(x)
    se = x.std(ddof=1) / math.sqrt(8)
    assert (
        one.se == pytest.approx(se)
        and one.df == 7
        and one.high - one.mean == pytest.approx(2.3646 * se, 1e-3)
    )
    # a persona missing a value is left out, not imputed
    assert crossed_estimate(np.array([[1.0, np.nan], [0.0, 0.0]] + [[0.5, 0.5]] * 5)).n_personas == 6


def test_the_detectable_difference_grows_with_the_standard_error():
    assert detectable_difference(0.01, 30) == pytest.approx((2.042 + 0.854) * 0.01, 1e-2)
    assert detectable_difference(0.02, 30) == pytest.approx(2 * detectable_difference(0.01, 30))
    assert math.isnan(detectable_difference(math.nan, 3))
