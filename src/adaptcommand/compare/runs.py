"""Finished runs side by side: `adaptcommand compare-runs DIR... --out DIR`.

Runs that differ in anything but the protocol (the base model, the budgets of train.sessions, the
recipes) are put in one table and one figure: each run's methods on the headline with their intervals
(summary.csv, pooled over personas x seeds) and, where runs have them, their learning curves overlaid.
Each run's comparison records what it was made by (results/comparison/protocol.json: the headline, the
test turns' fingerprint, the base model); runs scored on other test turns or with another headline are
refused, naming which.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from adaptcommand import layout
from adaptcommand.compare.report import save_figure, write_csv
from adaptcommand.compare.table import wide_name

__all__ = ["RunsError", "compare_runs", "load_run"]

PROTOCOL = "protocol.json"  # results/comparison/protocol.json of every run


class RunsError(ValueError):
    """Runs that cannot be compared (or are not finished comparisons), with the reason."""


def load_run(directory: str | Path) -> dict:
    """{"dir", "label", "protocol", "summary", "curve" (None without one)} of a finished run."""
    root = Path(directory)
    found = {name: root / layout.comparison(name) for name in (PROTOCOL, "summary.csv", "learning_curve.csv")}
    missing = [str(p) for name, p in found.items() if name != "learning_curve.csv" and not p.is_file()]
    if missing:
        raise RunsError(
            f"{root}: not a finished comparison ({', '.join(missing)} missing): run the workflow there"
        )
    protocol = json.loads(found[PROTOCOL].read_text())
    curve = found["learning_curve.csv"]
    return dict(
        dir=str(root),
        label=f"{root.name} ({Path(protocol['base']).name})",
        protocol=protocol,
        summary=pd.read_csv(found["summary.csv"], index_col="method"),
        curve=pd.read_csv(curve) if curve.is_file() else None,
    )


def check_comparable(runs: list[dict]) -> None:
    """Raise RunsError unless every run was scored on the first run's test turns, with its headline."""
    first = runs[0]
    for run in runs[1:]:
        for key, what in (("targets_fingerprint", "test turns"), ("headline", "headline")):
            a, b = first["protocol"][key], run["protocol"][key]
            if a != b:
                raise RunsError(
                    f"{run['dir']} was not scored with the {what} of {first['dir']} ({key}: {b} vs {a}): "
                    "runs side by side must share the protocol"
                )
    labels = [r["label"] for r in runs]
    if len(set(labels)) != len(labels):
        for i, run in enumerate(runs):
            run["label"] = f"{i + 1}: {run['label']}"


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per (run, method): the headline's mean and interval, its difference to the run's first
    reference and that interval, and the run's base model."""
    head = runs[0]["protocol"]["headline"]
    rows = []
    for run in runs:
        ref = run["protocol"]["references"][0]
        summary = run["summary"]
        for method, r in summary[summary["role"] == "method"].iterrows():
            rows.append(
                dict(
                    run=run["label"],
                    base=run["protocol"]["base"],
                    method=method,
                    metric=head,
                    mean=r[wide_name(head, "persona_mean")],
                    ci_low=r[wide_name(head, "ci_low")],
                    ci_high=r[wide_name(head, "ci_high")],
                    reference=ref,
                    diff=r.get(wide_name(head, f"diff_{ref}")),
                    diff_low=r.get(wide_name(head, f"diff_{ref}_low")),
                    diff_high=r.get(wide_name(head, f"diff_{ref}_high")),
                )
            )
    return pd.DataFrame(rows)


def runs_figure(table: pd.DataFrame, runs: list[dict], path: str) -> None:
    """Left: each method's headline with its interval, one marker per run; right (where runs have
    learning curves): the curves, one line style per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    head = runs[0]["protocol"]["headline"]
    curves = [r for r in runs if r["curve"] is not None]
    fig, axes = plt.subplots(
        1, 2 if curves else 1, figsize=(13 if curves else 7, 0.45 * table["method"].nunique() + 2.5)
    )
    left = axes[0] if curves else axes
    methods = list(dict.fromkeys(table["method"]))
    step = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        part = table[table["run"] == run["label"]].set_index("method")
        y = [methods.index(m) + (i - (len(runs) - 1) / 2) * step for m in part.index]
        left.errorbar(
            part["mean"],
            y,
            xerr=[part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]],
            fmt="o",
            capsize=2,
            label=run["label"],
        )
    left.set_yticks(range(len(methods)), methods)
    left.invert_yaxis()
    left.set_xlabel(f"{head} (95% interval, personas x seeds)")
    left.legend(fontsize=8, loc="lower right")
    left.grid(alpha=0.3, axis="x")
    if curves:
        right = axes[1]
        drawn = list(dict.fromkeys(m for r in curves for m in r["curve"]["method"]))
        colours = {m: f"C{j % 10}" for j, m in enumerate(drawn)}  # one colour per method of the curves
        for i, run in enumerate(curves):
            c = run["curve"][run["curve"]["metric"] == head]
            for method, rows in c.groupby("method", sort=False):
                right.plot(
                    rows["sessions"],
                    rows["mean"],
                    marker="o",
                    linestyle=["-", "--", ":", "-."][i % 4],
                    color=colours.get(method, "grey"),
                    label=f"{method}, {run['label']}",
                )
        right.set_xscale("log", base=2)
        right.set_xticks(sorted({n for r in curves for n in r["curve"]["sessions"]}))
        right.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        right.set_xlabel("train sessions per user (N most recent)")
        right.set_ylabel(head)
        right.legend(fontsize=7, loc="best")
        right.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def compare_runs(directories: list[str], out: str | Path) -> pd.DataFrame:
    """runs.csv and runs.png in `out` for the finished runs in `directories` (refused: RunsError)."""
    if len(directories) < 2:
        raise RunsError("compare-runs needs two or more finished runs")
    runs = [load_run(d) for d in directories]
    check_comparable(runs)
    table = runs_table(runs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(table.set_index(["run", "method"]), str(out / "runs.csv"))
    runs_figure(table, runs, str(out / "runs.png"))
    return table
