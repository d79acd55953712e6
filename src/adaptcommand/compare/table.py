"""The comparison's numbers: one long table (method, role, seed, metric, statistic, value).

Every learned method is evaluated once per training seed (a *run*: ``seed<s>``); a method that learns
nothing (the base) once (``untrained``). For each row and metric the table holds, pooled over the
runs (seed ``pooled``) and for each seed alone (seed ``<s>``):

- ``persona_mean``: the mean over personas (and seeds) of the per-persona metric, with its 95%
  interval ``ci_low`` / ``ci_high`` (`stats.crossed_estimate`: personas and seeds crossed, a t
  interval; none below 5 personas) and ``se`` / ``df``;
- ``diff_<ref>`` with ``_low`` / ``_high`` / ``_se`` / ``_df``: the difference to each reference row
  of the protocol, per persona and seed (a seed's run paired with the reference's run of the same
  seed, or its untrained run);
- ``micro`` / ``macro``: the metrics.json values (mean over the runs when pooled);

and pooled only, on the headline: ``order_<other>`` and ``rank_low`` / ``rank_high`` (every pairwise
order as one family of claims, `stats.pairwise_claims`: one plus the rows claimed better, the number of
rows minus those claimed worse) and
``detectable_<ref>`` (the smallest difference to the untrained reference this run detects with 80%
power, `baseline_row`: the base); then counts and cost. `to_wide` pivots it into summary.csv's
columns.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from adaptcommand.compare.stats import crossed_estimate, detectable_difference, pairwise_claims
from adaptcommand.costs import COST_COLUMNS
from adaptcommand.layout import seed_number
from adaptcommand.metrics.scoring import KIND_PREFIXES
from adaptcommand.settings import Protocol

# Per-persona metrics that get an interval: every per-turn metric, on all turns and on each kind.
BASE_CI_METRICS = (
    "similarity",
    "rouge1",
    "rouge2",
    "rougeL",
    "device_f1",
    "param_f1",
    "numeric_exact_rate",
    "numeric_within_tol_rate",
    "numeric_mae",
    "categorical_accuracy",
)
CI_METRICS = BASE_CI_METRICS + tuple(f"{k}_{m}" for k in KIND_PREFIXES for m in BASE_CI_METRICS)
POOLED = "pooled"
COLUMNS = ["method", "role", "seed", "metric", "statistic", "value"]
# Wall seconds of the jobs behind a row (per run), split by the kind of rule (GPU rules run the model
# and ask a GPU where there is one; CPU rules never do), their sum, and the CPU time of all of them.


def seed_label(run: str) -> str | None:
    """The seed of a run directory as the table's label ("seed2" -> "2"; untrained -> None)."""
    return run.removeprefix("seed") if run.startswith("seed") else None


def wide_name(metric: str, statistic: str) -> str:
    """The summary.csv column of (metric, statistic): the micro value and plain values under the
    metric's own name, the macro value as macro_<metric>, any other statistic as <metric>_<statistic>."""
    if statistic in ("micro", "value"):
        return metric
    if statistic == "macro":
        return f"macro_{metric}"
    return f"{metric}_{statistic}"


def load_runs(runs: dict[str, list[str]], metrics_files: list[str], per_persona_files: list[str]):
    """({method: {run: metrics.json}}, {method: {run: per-persona DataFrame}}) from the files in the
    order of `runs` ({method: its runs}); every run must be scored on the same targets."""
    order = [(m, r) for m, rs in runs.items() for r in rs]
    if len(order) != len(metrics_files) or len(order) != len(per_persona_files):
        raise ValueError(
            f"{len(order)} runs, {len(metrics_files)} metrics files, {len(per_persona_files)} tables"
        )
    metrics: dict[str, dict] = {m: {} for m in runs}
    tables: dict[str, dict] = {m: {} for m in runs}
    for (m, r), mf, pf in zip(order, metrics_files, per_persona_files, strict=True):
        metrics[m][r] = json.loads(Path(mf).read_text())
        tables[m][r] = pd.read_csv(pf, index_col="persona_id")
    fingerprints = {f"{m}/{r}": v["targets_fingerprint"] for m, rs in metrics.items() for r, v in rs.items()}
    if len(set(fingerprints.values())) > 1:
        raise AssertionError(f"methods were scored on different targets: {fingerprints}")
    return metrics, tables


def oracle_tables(
    oracle_paths: list[str], tables: dict[str, dict[str, pd.DataFrame]]
) -> dict[str, pd.DataFrame]:
    """{run: per persona, every metric of the candidate the oracle picked ON TEST in that seed}."""
    out = {}
    for path in oracle_paths:
        doc = json.loads(Path(path).read_text())
        run = Path(path).parent.name  # results/routing/seed<s>/oracle.json
        picks = {p: v["method"] for p, v in doc["personas"].items()}
        out[run] = pd.DataFrame({p: tables[m][run].loc[p] for p, m in sorted(picks.items())}).T
    return out


def run_matrix(runs: dict[str, pd.DataFrame], metric: str, seeds: list[str] | None) -> pd.DataFrame:
    """Personas x seeds of one row's metric: its run of each seed in `seeds` (an untrained run stands
    for every seed), or all its runs when `seeds` is None."""
    if seeds is None:
        return pd.DataFrame({r: t[metric] for r, t in runs.items()}).astype(float)
    cols = {}
    for s in seeds:
        if f"seed{s}" in runs:
            cols[s] = runs[f"seed{s}"][metric]
        elif _seeds_of(runs) is None:  # an untrained run stands for every seed
            cols[s] = next(iter(runs.values()))[metric]
        else:
            raise ValueError(f"no run of seed {s} among {sorted(runs)}")
    return pd.DataFrame(cols).astype(float)


def _seeds_of(runs: dict[str, pd.DataFrame]) -> list[str] | None:
    labels = [seed_label(r) for r in runs]
    return None if None in labels else labels


def baseline_row(protocol: Protocol, tables: dict[str, dict]) -> str | None:
    """The row that learns nothing (evaluated once, untrained: the method of the table without an
    adapter, the model as it is), the protocol's references first: what the controls, the per-persona
    gains and `detectable_<row>` are differences to. None if no row of `tables` ({row: {run: ...}}) is
    untrained."""
    rows = [*(r for r in protocol.references if r in tables), *tables]
    return next((r for r in rows if _seeds_of(tables[r]) is None), None)


def summary_long(
    meta: dict[str, dict],
    tables: dict[str, dict[str, pd.DataFrame]],
    costs: dict[str, dict[str, float]],
    protocol: Protocol,
) -> pd.DataFrame:
    """The long table of the rows `meta` ({name: {"role", "runs": {run: metrics.json or {}}}}) from
    their per-persona tables ({name: {run: DataFrame}}); see the module docstring."""
    records: list[tuple] = []
    names = list(meta)

    def add(m, seed, metric, statistic, value):
        records.append((m, meta[m]["role"], seed, metric, statistic, float(value)))

    all_seeds = sorted({s for m in names for r in tables[m] if (s := seed_label(r))}, key=seed_number)
    for m in names:
        add(m, POOLED, "n_seeds", "value", len(tables[m]))
        runs = meta[m]["runs"]
        for key in ("n_turns", "n_personas"):  # the same in every run (the targets are)
            counts = [doc[key] for doc in runs.values() if key in doc]
            if counts:
                add(m, POOLED, key, "value", max(counts))
        for part in ("micro", "macro"):
            values = pd.DataFrame([doc[part] for doc in runs.values() if part in doc], dtype=float)
            for metric, v in values.mean().items():
                add(m, POOLED, metric, part, v)
        for run, doc in runs.items():  # each seed's own values (an untrained run's stand for every seed)
            for seed in [seed_label(run)] if seed_label(run) else all_seeds:
                for key in ("n_turns", "n_personas"):
                    if key in doc:
                        add(m, seed, key, "value", doc[key])
                for part in ("micro", "macro"):
                    for metric, v in doc.get(part, {}).items():
                        add(m, seed, metric, part, math.nan if v is None else v)
    baseline = baseline_row(protocol, tables)
    for metric in CI_METRICS:
        if not all(metric in t for m in names for t in tables[m].values()):
            continue
        for seed in [POOLED, *all_seeds]:
            _estimates(add, names, tables, metric, seed, protocol, baseline)
    _ranks(add, meta, tables, protocol)
    for m in names:
        for column, v in costs.get(m, dict.fromkeys(COST_COLUMNS, math.nan)).items():
            add(m, POOLED, column, "value", v)
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def paired_runs(tables, m: str, ref: str, metric: str, seed: str) -> pd.DataFrame:
    """Per persona (and seed) m minus ref: a seed's run against the reference's run of that seed (or
    its untrained run); pooled, over the seeds m (or ref) was run with."""
    seeds = [seed] if seed != POOLED else (_seeds_of(tables[m]) or _seeds_of(tables[ref]) or [None])
    if seeds == [None]:  # neither learns: one untrained run each
        return run_matrix(tables[m], metric, None) - run_matrix(tables[ref], metric, None).to_numpy()
    a, b = run_matrix(tables[m], metric, seeds), run_matrix(tables[ref], metric, seeds)
    return a - b.loc[a.index]


def _estimates(add, names, tables, metric: str, seed: str, protocol: Protocol, baseline: str | None) -> None:
    for m in names:
        runs = tables[m]
        if seed != POOLED and f"seed{seed}" not in runs and _seeds_of(runs) is not None:
            continue
        x = run_matrix(runs, metric, None if seed == POOLED else [seed])
        e = crossed_estimate(x.to_numpy())
        for stat, v in (
            ("persona_mean", e.mean),
            ("ci_low", e.low),
            ("ci_high", e.high),
            ("se", e.se),
            ("df", e.df),
        ):
            add(m, seed, metric, stat, v)
        for ref in protocol.references:
            if ref not in tables or ref == m:
                continue
            d = crossed_estimate(paired_runs(tables, m, ref, metric, seed).to_numpy())
            for stat, v in (("", d.mean), ("_low", d.low), ("_high", d.high), ("_se", d.se), ("_df", d.df)):
                add(m, seed, metric, f"diff_{ref}{stat}", v)
            if ref == baseline and metric == protocol.headline and seed == POOLED:
                add(m, seed, metric, f"detectable_{ref}", detectable_difference(d.se, d.df))


def _ranks(add, meta, tables, protocol: Protocol) -> None:
    """The methods (controls and the bound are not ranked) against each other on the pooled headline,
    as one family of claims (`stats.pairwise_claims`: Holm over every pair, the chance of any false
    order at most 5%): `order_<other>` +1 (claimed better), -1 (claimed worse) or 0 (tied); then
    rank_low / rank_high, 1 + the methods claimed better .. the methods not claimed worse."""
    head = protocol.headline
    rows = [m for m in meta if meta[m]["role"] == "method" and all(head in t for t in tables[m].values())]
    seeds = sorted({s for m in rows for r in tables[m] if (s := seed_label(r))}, key=seed_number) or None
    matrices = {m: run_matrix(tables[m], head, seeds) for m in rows}
    common = sorted(set.intersection(*(set(x.index) for x in matrices.values()))) if rows else []
    claims = pairwise_claims(
        {m: x.loc[common].to_numpy() for m, x in matrices.items()},
        {m: _seeds_of(tables[m]) is not None for m in rows},
    )
    order = {m: {} for m in rows}
    for (a, b), sign in claims.items():
        order[a][b], order[b][a] = sign, -sign
    for m in rows:
        for other, sign in order[m].items():
            add(m, POOLED, head, f"order_{other}", sign)
        add(m, POOLED, head, "rank_low", 1 + sum(s < 0 for s in order[m].values()))
        add(m, POOLED, head, "rank_high", len(rows) - sum(s > 0 for s in order[m].values()))


def tied_with(summary: pd.DataFrame, protocol: Protocol) -> dict[str, list[str]]:
    """{method: the methods its pooled headline difference does not separate it from} (`order_<other>`
    = 0: an interval that holds 0), the rows the data cannot order."""
    prefix = wide_name(protocol.headline, "order_")
    return {
        m: [c[len(prefix) :] for c in summary.columns if c.startswith(prefix) and r[c] == 0]
        for m, r in summary.iterrows()
        if pd.notna(r.get(wide_name(protocol.headline, "rank_low")))
    }


def to_wide(long: pd.DataFrame, seed: str = POOLED) -> pd.DataFrame:
    """One row per method (in the long table's order), `role`, then a column per (metric, statistic)
    of `seed`'s rows (`wide_name`): summary.csv for the pooled rows, a seed's own table otherwise."""
    part = long[long["seed"] == seed]
    part = part.assign(
        column=[wide_name(m, st) for m, st in zip(part["metric"], part["statistic"], strict=True)]
    )
    wide = part.pivot(index="method", columns="column", values="value")
    wide = wide.loc[list(dict.fromkeys(part["method"])), list(dict.fromkeys(part["column"]))]
    roles = long.drop_duplicates("method").set_index("method")["role"]
    return pd.concat([roles.loc[wide.index], wide], axis=1).rename_axis("method")


def seed_spread(long: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per row, its per-seed mean over personas of `metric` (a column per seed) and their standard
    deviation across seeds (the seed-to-seed spread)."""
    part = long[(long["metric"] == metric) & (long["statistic"] == "persona_mean") & (long["seed"] != POOLED)]
    table = part.pivot(index="method", columns="seed", values="value")
    table = table.loc[[m for m in dict.fromkeys(long["method"]) if m in table.index]]
    table = table[sorted(table.columns, key=seed_number)]
    table["sd"] = table.std(axis=1, ddof=1) if table.shape[1] > 1 else np.nan
    return table
