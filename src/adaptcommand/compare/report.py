"""Collect every method's results into summary.csv / summary.md and the comparison figure."""

from __future__ import annotations

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
    """(wall seconds, CPU seconds) summed over Snakemake `benchmark:` files that exist."""
    wall = cpu = 0.0
    for f in benchmark_files:
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


def summarize(methods, metrics, per_persona, costs, resamples: int, seed: int) -> pd.DataFrame:
    table = pd.DataFrame({m: per_persona[m][HEADLINE] for m in methods})
    boot = paired_bootstrap(table, resamples, seed, REFERENCES)
    rows = []
    for m in methods:
        row = {"method": m, "n_turns": metrics[m]["n_turns"], "n_personas": metrics[m]["n_personas"]}
        row.update({f"{k}": v for k, v in metrics[m]["micro"].items()})
        row.update({f"macro_{k}": v for k, v in metrics[m]["macro"].items()})
        b = boot.loc[m]
        row.update(
            {
                f"{HEADLINE}_persona_mean": b["mean"],
                f"{HEADLINE}_ci_low": b["ci_low"],
                f"{HEADLINE}_ci_high": b["ci_high"],
            }
        )
        for ref in REFERENCES:
            if f"diff_{ref}" in b:
                row.update(
                    {
                        f"diff_{ref}": b[f"diff_{ref}"],
                        f"diff_{ref}_low": b[f"diff_{ref}_low"],
                        f"diff_{ref}_high": b[f"diff_{ref}_high"],
                    }
                )
        row["cost_wall_s"], row["cost_cpu_s"] = costs.get(m, (math.nan, math.nan))
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def to_markdown(summary: pd.DataFrame) -> str:
    cols = [
        "n_turns",
        "similarity",
        "similarity_ci_low",
        "similarity_ci_high",
        "diff_unified",
        "diff_unified_low",
        "diff_unified_high",
        "rougeL",
        "device_f1",
        "param_f1",
        "cost_wall_s",
    ]
    cols = [c for c in cols if c in summary.columns]
    lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m, r in summary[cols].iterrows():
        cells = [f"{r[c]:.0f}" if c in ("n_turns", "cost_wall_s") else f"{r[c]:.3f}" for c in cols]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    note = (
        "\nSimilarity: MiniLM cosine, micro mean over turns; CI: 95% paired bootstrap over personas of "
        "the per-persona mean; diff_unified: method minus unified with its CI. Costs: wall seconds of "
        "the rules that produced the method (Snakemake benchmark files).\n"
    )
    return "\n".join(lines) + "\n" + note


def figure(summary: pd.DataFrame, per_persona: dict[str, pd.DataFrame], path: str) -> None:
    methods = list(summary.index)
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0, 0]
    mean = summary[f"{HEADLINE}_persona_mean"]
    err = [mean - summary[f"{HEADLINE}_ci_low"], summary[f"{HEADLINE}_ci_high"] - mean]
    ax.bar(methods, mean, yerr=err, capsize=4, color="tab:blue", alpha=0.8)
    for i, v in enumerate(mean):
        ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
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
    xs = range(len(methods))
    ax.bar([x - width / 2 for x in xs], summary["device_f1"], width, label="device F1")
    ax.bar([x + width / 2 for x in xs], summary["param_f1"], width, label="parameter F1")
    ax.set_xticks(list(xs), methods)
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("Smart-home actions extracted vs reference (micro F1)")
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


def write_comparison(
    methods,
    metrics_files,
    per_persona_files,
    benchmarks: dict[str, list[str]],
    out: dict[str, str],
    resamples: int,
    seed: int,
) -> pd.DataFrame:
    metrics, per_persona = load_results(methods, metrics_files, per_persona_files)
    costs = {m: job_seconds(benchmarks.get(m, [])) for m in methods}
    summary = summarize(methods, metrics, per_persona, costs, resamples, seed)
    tmp = Path(out["summary"] + ".tmp")
    summary.to_csv(tmp)
    tmp.replace(out["summary"])
    Path(out["markdown"]).write_text(to_markdown(summary))
    figure(summary, per_persona, out["figure"])
    return summary
