"""When does personalisation pay? The learning curve over a user's history (config train.sessions).

Every learned method is trained and evaluated at each budget N (each persona's N most recent train
sessions; adaptcommand.layout: runs ``seed<s>-n<N>``, the full history ``seed<s>``); a method that
learns nothing (the base) is one untrained run, the same at every N (one whose prompts retrieve past
exchanges, `retrieval`: one untrained run per N, from that N's sessions). At each N, on the same test
turns:

- each method's mean over personas x seeds of the headline and of the stated-value F1, with the
  summary's interval (`stats.crossed_estimate`);
- its difference to the reference row (the first of compare.references evaluated: unified by
  default), paired per persona and seed, with its interval;
- the crossover: the smallest N from which that interval lies above 0 at N and at every larger N.

`learning_curve` makes the table (learning_curve.csv), `crossovers` and `crossover_sentence` say it,
`curve_figure` draws it.
"""

from __future__ import annotations

import math

import pandas as pd

from adaptcommand.compare.stats import crossed_estimate
from adaptcommand.compare.table import POOLED, paired_runs, run_matrix
from adaptcommand.layout import UNTRAINED, budget_of, seed_number
from adaptcommand.settings import Protocol

STATED_F1 = "stated_param_f1"  # the values the user states in the turn: no history needed
FROM_SMALLEST = "from the smallest N"
NONE_IN_RANGE = "none in range"


def by_budget(
    tables: dict[str, dict[str, pd.DataFrame]], full: int
) -> dict[int, dict[str, dict[str, pd.DataFrame]]]:
    """{N: {method: {seed<s>: per-persona table}}}: each learned run under its budget (the full
    history as `full` sessions) with the budget dropped from its name, so that runs of one budget pair
    by seed; an untrained run stands at every budget, unless the row has one per budget (its prompts
    retrieve from the budget's train sessions: untrained-n<N>, untrained), each at its own."""
    learned = {budget_of(r) for runs in tables.values() for r in runs}
    sessions = {b: full if b is None else b for b in learned}
    out: dict[int, dict[str, dict[str, pd.DataFrame]]] = {n: {} for n in sorted(sessions.values())}
    for method, runs in tables.items():
        per_budget = any(budget_of(r) is not None for r in runs)
        for run, table in runs.items():
            if not run.startswith("seed"):  # untrained: at its budget, or the same at every budget
                for n in [sessions[budget_of(run)]] if per_budget else out:
                    out[n].setdefault(method, {})[UNTRAINED] = table
                continue
            n = sessions[budget_of(run)]
            out[n].setdefault(method, {})[f"seed{seed_number(run)}"] = table
    return out


def learning_curve(
    tables: dict[str, dict[str, pd.DataFrame]], protocol: Protocol, full: int, reference: str | None = None
) -> pd.DataFrame:
    """One row per (method, N, metric): mean, ci_low, ci_high over personas x seeds, and diff, diff_low,
    diff_high to `reference` (default: the first of compare.references evaluated; NaN for itself).
    `tables`: {method: {run: per-persona table}} with runs of every budget (`by_budget`)."""
    evaluated = [r for r in protocol.references if r in tables] or list(protocol.references)
    reference = reference or evaluated[0]
    rows = []
    for n, at in by_budget(tables, full).items():
        for method, runs in at.items():
            for metric in dict.fromkeys((protocol.headline, STATED_F1)):
                if not all(metric in t for t in runs.values()):
                    continue
                e = crossed_estimate(run_matrix(runs, metric, None).to_numpy())
                row = dict(
                    method=method,
                    sessions=n,
                    metric=metric,
                    mean=e.mean,
                    ci_low=e.low,
                    ci_high=e.high,
                    n_personas=e.n_personas,
                    n_seeds=e.n_seeds,
                )
                d = (math.nan,) * 3
                if method != reference and reference in at:
                    de = crossed_estimate(paired_runs(at, method, reference, metric, POOLED).to_numpy())
                    d = (de.mean, de.low, de.high)
                rows.append(row | dict(zip(("diff", "diff_low", "diff_high"), d, strict=True)))
    curve = pd.DataFrame(rows)
    curve.attrs["reference"] = reference
    return curve


def crossovers(curve: pd.DataFrame, metric: str) -> dict[str, int | str]:
    """{method: the smallest N from which its difference's interval lies above 0 at N and at every
    larger N; FROM_SMALLEST where that is the smallest N of the curve; NONE_IN_RANGE where its interval
    at the largest N does not lie above 0} for every method but the reference."""
    out: dict[str, int | str] = {}
    part = curve[(curve["metric"] == metric) & curve["diff"].notna()]
    smallest = int(curve["sessions"].min())
    for method, rows in part.groupby("method", sort=False):
        above = list(zip(rows["sessions"], rows["diff_low"] > 0, strict=True))
        first = None
        for n, ok in sorted(above, reverse=True):  # from the largest N down, while above 0
            if not ok:
                break
            first = int(n)
        out[method] = NONE_IN_RANGE if first is None else (FROM_SMALLEST if first == smallest else first)
    return out


def crossover_sentence(curve: pd.DataFrame, protocol: Protocol, synthetic: bool) -> str:
    """The crossover in one sentence (summary.md, the HTML report)."""
    reference = curve.attrs.get("reference", protocol.references[0])
    found = crossovers(curve, protocol.headline)
    ns = sorted(curve["sessions"].unique())
    parts = [
        f"{m} {'never' if c == NONE_IN_RANGE else 'from N = ' + str(ns[0] if c == FROM_SMALLEST else c)}"
        for m, c in found.items()
    ]
    caveat = (
        " These data are synthetic (the offline demo): the curve shows what the pipeline measures, not "
        "how real users behave."
        if synthetic
        else ""
    )
    return (
        f"Learning curve ({', '.join(map(str, ns))} train sessions per user): a method beats {reference} "
        f"on {protocol.headline} (95% interval over personas x seeds above 0 at N and every larger N): "
        f"{'; '.join(parts) or 'no method to compare'}.{caveat}"
    )


def curve_figure(curve: pd.DataFrame, protocol: Protocol):
    """The figure: two panels over N, each method's headline with its interval, and its difference to
    the reference with its interval (0 dashed; the crossover marked)."""
    import matplotlib
    import matplotlib.pyplot as plt

    reference = curve.attrs.get("reference", protocol.references[0])
    head = curve[curve["metric"] == protocol.headline]
    found = crossovers(curve, protocol.headline)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for method, rows in head.groupby("method", sort=False):
        (line,) = left.plot(rows["sessions"], rows["mean"], marker="o", label=method)
        left.fill_between(
            rows["sessions"], rows["ci_low"], rows["ci_high"], alpha=0.15, color=line.get_color()
        )
        if rows["diff"].notna().any():
            right.plot(rows["sessions"], rows["diff"], marker="o", color=line.get_color(), label=method)
            right.fill_between(
                rows["sessions"], rows["diff_low"], rows["diff_high"], alpha=0.15, color=line.get_color()
            )
            c = found.get(method)
            if isinstance(c, int) or c == FROM_SMALLEST:
                n = rows["sessions"].min() if c == FROM_SMALLEST else c
                y = rows.loc[rows["sessions"] == n, "diff"].iloc[0]
                right.scatter([n], [y], s=120, facecolors="none", edgecolors=line.get_color(), zorder=3)
    right.axhline(0, color="grey", linestyle="--", linewidth=1)
    for ax, title in (
        (left, f"{protocol.headline} (95% interval, personas x seeds)"),
        (right, f"difference to {reference} (circle: crossover)"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(curve["sessions"].unique()))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("train sessions per user (N most recent)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    left.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
