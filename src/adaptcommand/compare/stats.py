"""Intervals of the comparison: each method's mean over personas (and training seeds) with a 95%
interval, and differences to reference rows.

`paired_bootstrap` resamples personas only (one training run per method); `crossed_estimate` also
counts the randomness of training (personas x seeds, a t interval), see its docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def paired_bootstrap(
    table: pd.DataFrame, resamples: int, seed: int, references: tuple[str, ...] = ()
) -> pd.DataFrame:
    """`table`: personas x methods (one metric). Resample personas with replacement, the same draw for
    every method (paired), and return per method: mean, ci_low, ci_high, and for each reference r
    present: diff_<r>, diff_<r>_low, diff_<r>_high (method minus r).
    Personas with a missing value for any method are dropped so every method is compared on the same set.
    """
    table = table.dropna(axis=0, how="any")
    values = table.to_numpy(dtype=float)  # personas x methods
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    boot = values[idx].mean(axis=1)  # resamples x methods
    out = pd.DataFrame(index=table.columns)
    out["n_personas"] = n
    out["mean"] = values.mean(axis=0)
    out["ci_low"], out["ci_high"] = np.percentile(boot, [2.5, 97.5], axis=0)
    for ref in references:
        if ref not in table.columns:
            continue
        j = list(table.columns).index(ref)
        diff = boot - boot[:, [j]]
        out[f"diff_{ref}"] = out["mean"] - out.loc[ref, "mean"]
        out[f"diff_{ref}_low"], out[f"diff_{ref}_high"] = np.percentile(diff, [2.5, 97.5], axis=0)
    return out


# ---- personas x seeds: intervals that include training randomness --------------------------------

MIN_UNITS = 5  # below this many personas no interval is given (its coverage cannot be trusted)


@dataclass(frozen=True)
class Estimate:
    """A mean over personas and seeds with its 95% interval (NaN bounds: too few personas)."""

    mean: float
    low: float
    high: float
    se: float
    df: float
    n_personas: int
    n_seeds: int

    @property
    def has_interval(self) -> bool:
        return not math.isnan(self.low)


def crossed_estimate(values, confidence: float = 0.95, min_units: int = MIN_UNITS) -> Estimate:
    """The mean of `values` (personas x seeds: one row per persona, one column per training seed;
    a persona with a missing value is left out) with an interval for personas AND seeds.

    Model: y[p, s] = mu + a_p + b_s + e_ps, personas and seeds crossed (seed s's unified model, the
    shared initialisation of every adapter of seed s, ... act on every persona at once). With P
    personas and S seeds, Var(mean) = s2_a / P + s2_b / S + s2_e / (P S), estimated from the two-way
    mean squares as (MS_P + MS_S) / (P S) (E[MS_P] = s2_e + S s2_a, E[MS_S] = s2_e + P s2_b: the
    interaction term is counted twice, on the safe side). A t interval with Satterthwaite's degrees of
    freedom, or S - 1 where the seed term is the larger (Satterthwaite is anti-conservative there with
    3 seeds: coverage 92% instead of 95% in tests/test_stats.py's simulation). One seed: the t
    interval over personas. Fewer than `min_units` personas: the mean and no interval."""
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    x = x[~np.isnan(x).any(axis=1)]
    p, s = x.shape
    mean = float(x.mean()) if x.size else math.nan
    if p < min_units:
        return Estimate(mean, math.nan, math.nan, math.nan, math.nan, p, s)
    row, col = x.mean(axis=1), x.mean(axis=0)
    ms_p = s * float(((row - mean) ** 2).sum()) / (p - 1)
    if s == 1:
        var, df = ms_p / p, p - 1.0
    else:
        ms_s = p * float(((col - mean) ** 2).sum()) / (s - 1)
        var = (ms_p + ms_s) / (p * s)
        denom = ms_p**2 / (p - 1) + ms_s**2 / (s - 1)
        df = float(s - 1) if ms_s > ms_p else ((ms_p + ms_s) ** 2 / denom if denom > 0 else p - 1.0)
    se = math.sqrt(var)
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return Estimate(mean, mean - half, mean + half, se, df, p, s)


def detectable_difference(se: float, df: float, power: float = 0.8, confidence: float = 0.95) -> float:
    """The smallest true difference a two-sided test at `confidence` detects with `power`, given the
    standard error and degrees of freedom of the estimated difference."""
    if math.isnan(se):
        return math.nan
    return float(stats.t.ppf(0.5 + confidence / 2, df) + stats.t.ppf(power, df)) * se
