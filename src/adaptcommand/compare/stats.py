"""Paired bootstrap over personas: each method's mean with a 95% CI, and differences to a reference."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
