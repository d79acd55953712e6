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


# ---- the family of pairwise claims: Holm over every pair, seed variance pooled ------------------


def pairwise_claims(
    rows: dict[str, np.ndarray], trained: dict[str, bool], family_alpha: float = 0.05
) -> dict[tuple[str, str], int]:
    """{(a, b): +1 (a better), -1 (b better) or 0 (tied)} for every pair of `rows` ({name: personas x
    seeds, one column per training seed; an untrained row repeats its one run in every column}), such
    that the chance of ANY false claim among all the pairs stays at or below `family_alpha`.

    Why not 95% per pair: 17 rows make 136 claims, a few false by chance. Why not Holm over each pair's
    own interval (`crossed_estimate`): its seed term has S - 1 = 2 degrees of freedom, so its tail at the
    0.05 / 136 level is far from the t distribution's (simulated: 44-47% of experiments with a false
    claim), and with df = S - 1 nothing is ever claimed. Here the seed term is pooled across the
    trained rows (training randomness is assumed alike in size for every trained method; an untrained
    row has none): with M_t trained rows its two-way interaction mean square MS_int over (trained row,
    seed) has (M_t - 1)(S - 1) degrees of freedom, the seed main effect MS_main (shared by every
    trained row, e.g. the seed's unified model) S - 1. A pair's variance is (MS_P + V_S) / (P S), MS_P
    its own persona mean square (P - 1 df), V_S = 2 MS_int for two trained rows, MS_main / M_t +
    (1 - 1/M_t) MS_int for a trained and an untrained one, 0 for two untrained ones (each the expected
    seed mean square of that pair's difference), with Satterthwaite's degrees of freedom. The pairs'
    two-sided p-values go through Holm's step-down procedure (valid for any dependence between them).
    tests/test_stats.py checks the family-wise error on simulated data with many equal methods.
    A persona missing from any row is left out of every pair; fewer than `MIN_UNITS` personas: all tied.
    """
    names = list(rows)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    claims = dict.fromkeys(pairs, 0)
    if len(names) < 2:
        return claims
    x = np.stack([np.asarray(rows[m], dtype=float).reshape(len(rows[m]), -1) for m in names])  # M x P x S
    x = x[:, ~np.isnan(x).any(axis=(0, 2)), :]
    _, p, s = x.shape
    if p < MIN_UNITS:
        return claims
    is_trained = np.array([bool(trained[m]) for m in names])
    ms_int, df_int, ms_main = _pooled_seed_terms(x[is_trained])
    tstats, dfs, signs = [], [], []
    for a, b in pairs:
        i, j = names.index(a), names.index(b)
        d = x[i] - x[j]
        mean = float(d.mean())
        ms_p = s * float(((d.mean(axis=1) - mean) ** 2).sum()) / (p - 1)
        n_trained = int(is_trained[i]) + int(is_trained[j])
        if s == 1 or n_trained == 0 or ms_int is None:
            v_s, df_s = (0.0, math.inf) if s == 1 or n_trained == 0 else _own_seed_term(d)
        elif n_trained == 2:
            v_s, df_s = 2 * ms_int, df_int
        else:
            m_t = int(is_trained.sum())
            parts = [(ms_main / m_t, s - 1.0), ((1 - 1 / m_t) * ms_int, df_int)]
            v_s = sum(v for v, _ in parts)
            denom = sum(v**2 / df for v, df in parts)
            df_s = v_s**2 / denom if denom > 0 else df_int
        var = (ms_p + v_s) / (p * s)
        denom = ms_p**2 / (p - 1) + (v_s**2 / df_s if v_s > 0 else 0.0)
        dfs.append((ms_p + v_s) ** 2 / denom if denom > 0 else p - 1.0)
        tstats.append(abs(mean) / math.sqrt(var) if var > 0 else (math.inf if mean != 0 else 0.0))
        signs.append(1 if mean > 0 else -1)
    pvalues = list(2 * stats.t.sf(np.array(tstats), np.array(dfs)))
    for k, idx in enumerate(np.argsort(pvalues, kind="stable")):
        if pvalues[idx] > family_alpha / (len(pairs) - k):
            break  # Holm: every larger p-value is kept as a tie
        claims[pairs[idx]] = signs[idx]
    return claims


def _pooled_seed_terms(t: np.ndarray) -> tuple[float | None, float, float]:
    """(MS_int, its df, MS_main) of the trained rows `t` (M_t x P x S), or (None, nan, nan) with fewer
    than 2 trained rows or 1 seed (see `pairwise_claims`)."""
    m_t, p, s = t.shape
    if m_t < 2 or s < 2:
        return None, math.nan, math.nan
    c = t.mean(axis=1)  # M_t x S: each trained row's mean over personas, per seed
    resid = c - c.mean(axis=1, keepdims=True) - c.mean(axis=0, keepdims=True) + c.mean()
    df_int = float((m_t - 1) * (s - 1))
    ms_int = p * float((resid**2).sum()) / df_int
    ms_main = p * m_t * float(((c.mean(axis=0) - c.mean()) ** 2).sum()) / (s - 1)
    return ms_int, df_int, ms_main


def _own_seed_term(d: np.ndarray) -> tuple[float, float]:
    """The seed mean square of one pair's differences `d` (P x S) and its S - 1 degrees of freedom
    (a pair with a trained row when no other trained row pools with it)."""
    p, s = d.shape
    col = d.mean(axis=0)
    return p * float(((col - col.mean()) ** 2).sum()) / (s - 1), s - 1.0
