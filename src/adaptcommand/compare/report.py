"""Collect every method's results into summary.csv / summary.md and the comparison figure."""

from __future__ import annotations

import glob
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from adaptcommand.compare.stats import paired_bootstrap  # noqa: E402

REFERENCES = ("unified", "base")
HEADLINE = "similarity"


def job_seconds(benchmark_files: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) summed over the Snakemake `benchmark:` files (globs allowed) that exist."""
    wall = cpu = 0.0
    files = sorted({f for pattern in benchmark_files for f in glob.glob(pattern)})
    for f in files:
        if Path(f).exists():
            t = pd.read_csv(f, sep="\t")
            wall += float(t["s"].mean())
            cpu += float(t["cpu_time"].mean()) if "cpu_time" in t else 0.0
    return wall, cpu


def load_results(methods: list[str], metrics_files: list[str], per_persona_files: list[str]):
    metrics = {m: json.loads(Path(f).read_text()) for m, f in zip(methods, metrics_files, strict=True)}
    fingerprints = {m: v["targets_fingerprint"] for m, v in metrics.items()}
    if len(set(fingerprints.values())) != 1:
        raise AssertionError(f"methods were scored on different targets: {fingerprints}")
    per_persona = {
        m: pd.read_csv(f, index_col="persona_id") for m, f in zip(methods, per_persona_files, strict=True)
    }
    return metrics, per_persona


# Per-persona metrics that get a bootstrap CI (those present in per_persona.csv).
CI_METRICS = (
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


def summarize(methods, metrics, per_persona, costs, resamples: int, seed: int) -> pd.DataFrame:
    """One row per method: micro and macro metrics, then for every CI metric the mean over personas,
    its 95% paired-bootstrap CI and the difference to unified and to base with their CIs."""
    rows = {
        m: {"method": m, "n_turns": metrics[m]["n_turns"], "n_personas": metrics[m]["n_personas"]}
        for m in methods
    }
    for m in methods:
        rows[m].update(metrics[m]["micro"])
        rows[m].update({f"macro_{k}": v for k, v in metrics[m]["macro"].items()})
    for metric in CI_METRICS:
        if not all(metric in per_persona[m] for m in methods):
            continue
        table = pd.DataFrame({m: per_persona[m][metric] for m in methods})
        if table.dropna().empty:
            continue
        boot = paired_bootstrap(table, resamples, seed, REFERENCES)
        for m in methods:
            b = boot.loc[m]
            rows[m].update(
                {
                    f"{metric}_persona_mean": b["mean"],
                    f"{metric}_ci_low": b["ci_low"],
                    f"{metric}_ci_high": b["ci_high"],
                }
            )
            for ref in REFERENCES:
                if f"diff_{ref}" in b:
                    rows[m].update(
                        {
                            f"{metric}_diff_{ref}": b[f"diff_{ref}"],
                            f"{metric}_diff_{ref}_low": b[f"diff_{ref}_low"],
                            f"{metric}_diff_{ref}_high": b[f"diff_{ref}_high"],
                        }
                    )
    for m in methods:
        rows[m]["cost_wall_s"], rows[m]["cost_cpu_s"] = costs.get(m, (math.nan, math.nan))
    return pd.DataFrame(list(rows.values())).set_index("method")


def _ci(r, metric: str) -> str:
    if f"{metric}_persona_mean" not in r or pd.isna(r[f"{metric}_persona_mean"]):
        return "n/a"
    return f"{r[f'{metric}_persona_mean']:.3f} [{r[f'{metric}_ci_low']:.3f}, {r[f'{metric}_ci_high']:.3f}]"


def _diff(r, metric: str, ref: str) -> str:
    key = f"{metric}_diff_{ref}"
    if key not in r or pd.isna(r[key]):
        return "n/a"
    return f"{r[key]:+.3f} [{r[key + '_low']:+.3f}, {r[key + '_high']:+.3f}]"


def to_markdown(summary: pd.DataFrame) -> str:
    header = (
        "| method | turns | similarity [95% CI] | vs unified | vs base | ROUGE-L | device F1 | "
        "param F1 | numeric ±tol | wall s |"
    )
    lines = [header, "|---" * 10 + "|"]
    for m, r in summary.iterrows():
        cells = [
            "—" if pd.isna(r.get("n_turns")) else f"{int(r['n_turns'])}",
            _ci(r, "similarity"),
            _diff(r, "similarity", "unified"),
            _diff(r, "similarity", "base"),
            _ci(r, "rougeL"),
            _ci(r, "device_f1"),
            _ci(r, "param_f1"),
            _ci(r, "numeric_within_tol_rate"),
            "—" if pd.isna(r.get("cost_wall_s")) else f"{r['cost_wall_s']:.0f}",
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    note = " ".join(
        [
            "\nEvery method is scored on the same test turns (assistant turns from the 3rd on, last 10",
            "messages as context, greedy decoding). Values: mean over personas of the per-persona metric",
            "with a 95% paired bootstrap CI over personas; 'vs unified' / 'vs base': difference of the means",
            "with its paired CI (an interval excluding 0 is a difference the data supports).",
            "Similarity: MiniLM cosine; ROUGE-L F1 (stemmed); device / parameter F1 and the numeric",
            "within-tolerance rate come from actions extracted against the closed schema. Wall s: summed",
            "wall time of the jobs that produced the method (benchmark files). summary.csv holds every",
            "metric, micro and macro, with every CI.\n",
        ]
    )
    return "\n".join(lines) + "\n" + note


def figure(summary: pd.DataFrame, per_persona: dict[str, pd.DataFrame], path: str) -> None:
    everything = list(summary.index)  # methods, then the oracle bound if any
    methods = [m for m in everything if m in per_persona]
    fig, axes = plt.subplots(2, 2, figsize=(max(13, 1.1 * len(everything)), 9.5))
    ax = axes[0, 0]
    all_mean = summary[f"{HEADLINE}_persona_mean"]
    all_err = [all_mean - summary[f"{HEADLINE}_ci_low"], summary[f"{HEADLINE}_ci_high"] - all_mean]
    for i, m in enumerate(everything):
        oracle = m not in per_persona
        ax.errorbar(
            [i],
            [all_mean[m]],
            yerr=[[all_err[0][m]], [all_err[1][m]]],
            fmt="o",
            capsize=5,
            color="tab:gray" if oracle else "tab:blue",
            mfc="white" if oracle else "tab:blue",
        )
        ax.annotate(
            f"{all_mean[m]:.3f}",
            (i, all_mean[m]),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize=8,
            va="center",
        )
    ax.set_xticks(
        range(len(everything)), [m if m in per_persona else "oracle\n(test bound)" for m in everything]
    )
    summary = summary.loc[methods]
    mean = summary[f"{HEADLINE}_persona_mean"]
    if "unified" in summary.index:
        ax.axhline(mean["unified"], color="gray", lw=0.8, ls="--", label="unified")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Embedding similarity (mean over personas, 95% bootstrap CI)")
    ax.set_ylabel("MiniLM cosine")
    ax = axes[0, 1]
    ax.boxplot([per_persona[m][HEADLINE].dropna() for m in methods], tick_labels=methods, showmeans=True)
    for i, m in enumerate(methods, start=1):
        vals = per_persona[m][HEADLINE].dropna()
        ax.scatter([i] * len(vals), vals, s=8, alpha=0.5, color="tab:gray")
    ax.set_title("Per-persona similarity (one dot per persona)")
    ax = axes[1, 0]
    width = 0.38
    xs = list(range(len(methods)))
    for offset, metric, label in (
        (-width / 2, "device_f1", "device F1"),
        (width / 2, "param_f1", "parameter F1"),
    ):
        if f"{metric}_persona_mean" not in summary:
            continue
        m_ = summary[f"{metric}_persona_mean"]
        e_ = [m_ - summary[f"{metric}_ci_low"], summary[f"{metric}_ci_high"] - m_]
        ax.bar([x + offset for x in xs], m_, width, yerr=e_, capsize=3, label=label)
    ax.set_xticks(xs, methods)
    ax.set_ylim(0, 1.05)
    ax.legend()
    ax.set_title("Smart-home actions vs reference (mean over personas, 95% CI)")
    ax = axes[1, 1]
    ax.scatter(summary["cost_wall_s"], mean, color="tab:red")
    for m in methods:
        ax.annotate(
            m, (summary.loc[m, "cost_wall_s"], mean[m]), fontsize=8, xytext=(3, 3), textcoords="offset points"
        )
    ax.set_xlabel("wall seconds of the method's jobs (training + evaluation)")
    ax.set_ylabel("similarity")
    ax.set_title("Cost vs score")
    for a in axes.flat:
        a.tick_params(axis="x", labelrotation=30)
    n = int(summary["n_turns"].iloc[0])
    fig.suptitle(f"AdaptCommand: every method on the same {n} test turns, greedy decoding")
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


ORACLE_LABEL = "oracle (test upper bound, not a method)"


def oracle_row(oracle_path: str, resamples: int, seed: int) -> pd.Series:
    """The routing oracle: per persona the best candidate ON TEST. Shown only as an upper bound."""
    data = json.loads(Path(oracle_path).read_text())
    metric = data["metric"]
    per = pd.DataFrame(
        {ORACLE_LABEL: {p: v["test_scores"][v["method"]] for p, v in data["personas"].items()}}
    )
    boot = paired_bootstrap(per, resamples, seed).loc[ORACLE_LABEL]
    return pd.Series(
        {
            "n_personas": len(per),
            f"{metric}_persona_mean": boot["mean"],
            f"{metric}_ci_low": boot["ci_low"],
            f"{metric}_ci_high": boot["ci_high"],
        },
        name=ORACLE_LABEL,
    )


def write_comparison(
    methods,
    metrics_files,
    per_persona_files,
    benchmarks: dict[str, list[str]],
    out: dict[str, str],
    resamples: int,
    seed: int,
    oracle: str = "",
) -> pd.DataFrame:
    metrics, per_persona = load_results(methods, metrics_files, per_persona_files)
    costs = {m: job_seconds(benchmarks.get(m, [])) for m in methods}
    summary = summarize(methods, metrics, per_persona, costs, resamples, seed)
    if oracle:
        summary = pd.concat([summary, oracle_row(oracle, resamples, seed).to_frame().T])
        summary.index.name = "method"
    tmp = Path(out["summary"] + ".tmp")
    summary.to_csv(tmp)
    tmp.replace(out["summary"])
    Path(out["markdown"]).write_text(to_markdown(summary))
    figure(summary, per_persona, out["figure"])
    return summary
