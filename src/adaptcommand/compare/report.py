"""Collect every method's results into summary.csv / summary.md / summary.tex / controls.json and the
comparison figure.

Rows are methods, then controls (labelled, never methods: `persona_swapped` evaluates each persona with
another persona's adapter), then the routing oracle (an upper bound chosen on test). What is claimed
and checked is the config's protocol (`settings.Protocol`, config `compare`): the headline metric (by
default parameter F1 on routine turns, the turns whose right reply needs the user's own routine values),
the reference rows of every difference and the positive control.

The numbers live in one long table (method, role, seed, metric, statistic, value); summary.csv is its
wide form (one row per method, a column per metric and statistic: `wide_name`), and summary.md /
summary.tex are rendered from it by pandas (`DataFrame.to_markdown`, `Styler.to_latex`).
"""

from __future__ import annotations

import glob
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from adaptcommand.compare.stats import paired_bootstrap  # noqa: E402
from adaptcommand.metrics.scoring import KIND_PREFIXES  # noqa: E402
from adaptcommand.routing import ORACLE_LABEL  # noqa: E402
from adaptcommand.settings import Protocol  # noqa: E402

# Per-persona metrics that get a bootstrap CI: every per-turn metric, on all turns and on each kind.
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


def oracle_table(oracle_path: str, per_persona: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per persona, every metric of the candidate the oracle picked ON TEST (an upper bound)."""
    picks = {p: v["method"] for p, v in json.loads(Path(oracle_path).read_text())["personas"].items()}
    return pd.DataFrame({p: per_persona[m].loc[p] for p, m in sorted(picks.items())}).T.rename_axis(
        "persona_id"
    )


def wide_name(metric: str, statistic: str) -> str:
    """The summary.csv column of (metric, statistic): the micro value and plain values under the
    metric's own name, the macro value as macro_<metric>, any other statistic as <metric>_<statistic>."""
    if statistic in ("micro", "value"):
        return metric
    if statistic == "macro":
        return f"macro_{metric}"
    return f"{metric}_{statistic}"


def summary_long(
    rows_meta: dict[str, dict], per_persona, costs, protocol: Protocol, seed: str = "all"
) -> pd.DataFrame:
    """The long table: (method, role, seed, metric, statistic, value) for every entry of `rows_meta`
    ({name: {"role", "n_turns", "n_personas", "micro": {...}, "macro": {...}}}): its counts, micro and
    macro values and, for every CI metric, the mean over personas with its 95% paired-bootstrap CI and
    the difference to each reference row with its CI (the same persona draws for every row); then its
    cost. `seed`: the training seeds the values are over."""
    names = list(rows_meta)
    records = []

    def add(m, metric, statistic, value):
        records.append((m, rows_meta[m]["role"], seed, metric, statistic, value))

    for m in names:
        for key in ("n_turns", "n_personas"):
            if key in rows_meta[m]:
                add(m, key, "value", rows_meta[m][key])
        for metric, v in rows_meta[m].get("micro", {}).items():
            add(m, metric, "micro", v)
        for metric, v in rows_meta[m].get("macro", {}).items():
            add(m, metric, "macro", v)
    references = tuple(protocol.references)
    for metric in CI_METRICS:
        if not all(metric in per_persona[m] for m in names):
            continue
        table = pd.DataFrame({m: per_persona[m][metric] for m in names}).astype(float)
        if table.dropna().empty:
            continue
        boot = paired_bootstrap(table, protocol.bootstrap_resamples, protocol.seed, references)
        for m in names:
            b = boot.loc[m]
            add(m, metric, "persona_mean", b["mean"])
            add(m, metric, "ci_low", b["ci_low"])
            add(m, metric, "ci_high", b["ci_high"])
            for ref in references:
                if f"diff_{ref}" in b:
                    for stat in (f"diff_{ref}", f"diff_{ref}_low", f"diff_{ref}_high"):
                        add(m, metric, stat, b[stat])
    for m in names:
        for column, v in costs.get(m, dict.fromkeys(COST_COLUMNS, math.nan)).items():
            add(m, column, "value", v)
    long = pd.DataFrame.from_records(
        records, columns=["method", "role", "seed", "metric", "statistic", "value"]
    )
    return long.astype({"value": float})


def to_wide(long: pd.DataFrame) -> pd.DataFrame:
    """summary.csv: one row per method (in the long table's order), `role`, then a column per (metric,
    statistic) in the long table's order (`wide_name`)."""
    long = long.assign(
        column=[wide_name(m, st) for m, st in zip(long["metric"], long["statistic"], strict=True)]
    )
    wide = long.pivot(index="method", columns="column", values="value")
    wide = wide.loc[list(dict.fromkeys(long["method"])), list(dict.fromkeys(long["column"]))]
    roles = long.drop_duplicates("method").set_index("method")["role"]
    return pd.concat([roles.loc[wide.index], wide], axis=1).rename_axis("method")


# Wall seconds of the jobs behind a row, split by the kind of rule (GPU rules run the model and ask a
# GPU where there is one; CPU rules never do), their sum, and the CPU time of all of them.
COST_COLUMNS = ("cost_gpu_job_s", "cost_cpu_job_s", "cost_wall_s", "cost_cpu_time_s")


def method_costs(benchmarks: dict[str, list[str]]) -> dict[str, float]:
    """COST_COLUMNS from {"gpu": benchmark files of GPU-rule jobs, "cpu": of CPU-rule jobs}."""
    gpu_wall, gpu_cpu = job_seconds(benchmarks.get("gpu", []))
    cpu_wall, cpu_cpu = job_seconds(benchmarks.get("cpu", []))
    return dict(zip(COST_COLUMNS, (gpu_wall, cpu_wall, gpu_wall + cpu_wall, gpu_cpu + cpu_cpu), strict=True))


def control_checks(summary: pd.DataFrame, controls: list[str], protocol: Protocol) -> dict:
    """Did the controls come out as they must? On the headline minus base (paired 95% CI): the
    protocol's positive control above 0, every negative control (the config's eval.controls) not."""
    metric = protocol.headline

    def diff(m):
        return {k: float(summary.loc[m, wide_name(metric, f"diff_base{s}")]) for k, s in _DIFF_PARTS}

    out = {"metric": metric, "reference": "base", "checks": []}
    positive = protocol.positive_control
    if positive in summary.index and "base" in summary.index:
        d = diff(positive)
        out["checks"].append(
            {"name": positive, "kind": "positive", "must": "CI above 0", "passed": d["low"] > 0, **d}
        )
    for c in controls:
        d = diff(c)
        out["checks"].append(
            {"name": c, "kind": "negative", "must": "CI not above 0", "passed": d["low"] <= 0, **d}
        )
    out["passed"] = all(c["passed"] for c in out["checks"])
    return out


_DIFF_PARTS = (("diff", ""), ("low", "_low"), ("high", "_high"))


def _ci(r, metric: str) -> str:
    mean = r.get(wide_name(metric, "persona_mean"))
    if mean is None or pd.isna(mean):
        return "n/a"
    return f"{mean:.3f} [{r[wide_name(metric, 'ci_low')]:.3f}, {r[wide_name(metric, 'ci_high')]:.3f}]"


def _diff(r, metric: str, ref: str) -> str:
    d = r.get(wide_name(metric, f"diff_{ref}"))
    if d is None or pd.isna(d):
        return "n/a"
    low, high = r[wide_name(metric, f"diff_{ref}_low")], r[wide_name(metric, f"diff_{ref}_high")]
    return f"{d:+.3f} [{low:+.3f}, {high:+.3f}]"


def _num(v, fmt: str) -> str:
    return "—" if v is None or pd.isna(v) else format(v, fmt)


LABELS = {
    "rougeL": "ROUGE-L",
    "param_f1": "param F1 (all)",
    "routine_numeric_mae": "routine MAE",
    "numeric_mae": "MAE (all)",
}


def _label(metric: str) -> str:
    """A metric's name for a table header: routine_param_f1 -> "routine param F1"."""
    if metric in LABELS:
        return LABELS[metric]
    return metric.replace("_", " ").replace("f1", "F1").replace("rougeL", "ROUGE-L").replace("mae", "MAE")


def display_table(summary: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """The columns of summary.md and summary.tex, as text: the headline (mean over personas with its
    95% paired-bootstrap CI, its differences to the reference rows, its pooled-turn value), the second
    metric, then a fixed set of others and the cost."""
    head, second = protocol.headline, protocol.second
    columns = {
        "role": lambda r: r["role"],
        "routine turns": lambda r: _num(r.get("routine_n_turns"), ".0f"),
        f"{_label(head)} [95% CI] (headline)": lambda r: _ci(r, head),
        **{
            f"{_label(head)} vs {ref}": (lambda r, ref=ref: _diff(r, head, ref))
            for ref in protocol.references
        },
        f"{_label(head)}, pooled turns": lambda r: _num(r.get(head), ".3f"),
        f"{_label(second)} [95% CI]": lambda r: _ci(r, second),
        f"{_label(second)} vs base": lambda r: _diff(r, second, "base"),
        **{
            _label(m): (lambda r, m=m: _ci(r, m))
            for m in ("rougeL", "param_f1", "stated_param_f1", "routine_numeric_mae", "numeric_mae")
            if m not in (head, second)
        },
        "macro sim.": lambda r: _num(r.get("macro_similarity"), ".3f"),
        "GPU-rule s": lambda r: _num(r.get("cost_gpu_job_s"), ".0f"),
        "CPU-rule s": lambda r: _num(r.get("cost_cpu_job_s"), ".0f"),
    }
    rows = {m: {h: cell(r) for h, cell in columns.items()} for m, r in summary.iterrows()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def to_markdown(
    summary: pd.DataFrame, checks: dict, protocol: Protocol, new_users: pd.DataFrame | None = None
) -> str:
    head = protocol.headline
    verdicts = [
        f"- {c['kind']} control `{c['name']}`: {head} − base = {c['diff']:+.3f} "
        f"[{c['low']:+.3f}, {c['high']:+.3f}], must be {c['must']}: "
        f"**{'passed' if c['passed'] else 'FAILED'}**"
        for c in checks["checks"]
    ]
    note = " ".join(
        [
            f"\nRows are ordered by the headline, **{_label(head)}** (config compare.headline; routine",
            "turns: assistant turns whose reference states a value of the session's applied routine that no",
            "context message states, so only the user's own history can supply it). Every row is scored on",
            "the same test turns (same prompts, greedy decoding). Values: mean over personas (the macro",
            "value) of the per-persona metric with a 95% paired bootstrap CI over personas; 'pooled turns':",
            "the micro value, over all those turns at once; 'vs base' / 'vs unified': the difference of the",
            "means with its paired",
            "CI (an interval excluding 0 is a difference the data supports). Similarity: MiniLM cosine over",
            "all turns; stated param F1: turns confirming values the user gave (the generic skill); MAE:",
            "mean absolute error of numeric values (routine turns / all turns). Roles: *control* rows check",
            "the measurement (never methods), *bound* is the routing oracle chosen on test. GPU-rule /",
            "CPU-rule s: summed wall time of the jobs behind the row, of the rules that run the model (on",
            "a GPU where there is one) and of the others. summary.csv holds every metric, micro and",
            "macro, with every CI.\n",
        ]
    )
    table = display_table(summary, protocol).to_markdown()
    text = table + "\n" + note + "\nControls:\n\n" + "\n".join(verdicts) + "\n"
    if new_users is not None:
        n = int(new_users["n_personas"].iloc[0])
        text += (
            f"\n## New users (cold start)\n\n{n} personas held out of everything that learns, scored on "
            "their test split by the methods that can serve a user they never trained on "
            "(results/comparison/cold_start.csv):\n\n"
            + display_table(new_users, protocol).to_markdown()
            + "\n"
        )
    return text


def _latex_table(summary: pd.DataFrame, protocol: Protocol, caption: str, label: str) -> str:
    """One booktabs table (pandas Styler: LaTeX escaping and rules done by the library)."""
    table = display_table(summary, protocol).reset_index()
    table = table.map(lambda v: v.replace("—", "--").replace("−", "-").replace("n/a", "--"))
    styler = table.style.hide(axis="index").format_index(escape="latex", axis=1).format(escape="latex")
    return styler.to_latex(
        caption=caption,
        label=label,
        hrules=True,
        position="t",
        position_float="centering",
        column_format="l" * len(table.columns),
    )


def to_latex(summary: pd.DataFrame, protocol: Protocol, new_users: pd.DataFrame | None = None) -> str:
    """summary.tex: booktabs tables to \\input into a paper (needs \\usepackage{booktabs})."""
    n = int(summary["n_personas"].dropna().iloc[0])
    parts = [
        "% AdaptCommand comparison (results/comparison/summary.csv). Needs \\usepackage{booktabs}.",
        _latex_table(
            summary,
            protocol,
            f"Every method on the same test turns of {n} personas. Mean over personas with 95% paired "
            f"bootstrap CI; {_label(protocol.headline)} is the headline.",
            "tab:adaptcommand",
        ),
    ]
    if new_users is not None:
        k = int(new_users["n_personas"].iloc[0])
        parts.append(
            _latex_table(
                new_users,
                protocol,
                f"New users (cold start): {k} personas held out of all training, on their test split.",
                "tab:adaptcommand-cold-start",
            )
        )
    return "\n".join(parts)


ROLE_STYLE = {
    "method": dict(color="tab:blue", marker="o", mfc="tab:blue"),
    "control": dict(color="tab:orange", marker="s", mfc="white"),
    "bound": dict(color="tab:gray", marker="D", mfc="white"),
}


def _dot_panel(ax, summary: pd.DataFrame, metric: str, title: str, xlabel: str, references=()) -> None:
    """Methods on the y axis (one per row, so names never overlap), mean and 95% CI as a dot and a bar;
    the `references` rows' means as vertical lines."""
    for y, (_, r) in enumerate(summary.iterrows()):
        mean = r.get(f"{metric}_persona_mean")
        if pd.isna(mean):
            continue
        err = [[mean - r[f"{metric}_ci_low"]], [r[f"{metric}_ci_high"] - mean]]
        ax.errorbar(
            [mean],
            [y],
            xerr=err,
            fmt=ROLE_STYLE[r["role"]]["marker"],
            capsize=4,
            **{k: v for k, v in ROLE_STYLE[r["role"]].items() if k != "marker"},
        )
        ax.annotate(
            f"{mean:.3f}",
            (r[f"{metric}_ci_high"], y),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
            va="center",
        )
    for ref, ls in zip(references, (":", "--", "-."), strict=False):
        if ref in summary.index and not pd.isna(summary.loc[ref].get(f"{metric}_persona_mean")):
            ax.axvline(summary.loc[ref, f"{metric}_persona_mean"], color="gray", lw=0.8, ls=ls, label=ref)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right", fontsize=8)


def _save(fig, path: str) -> None:
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def figure(
    summary: pd.DataFrame,
    per_persona: dict[str, pd.DataFrame],
    path: str,
    protocol: Protocol,
    new_users: pd.DataFrame | None = None,
) -> None:
    """Four panels sharing one method order (by the headline): the headline, the second metric, the
    per-persona gain over base on the headline, and cost; with `new_users` (the cold-start table) a
    fifth: the headline of the methods that serve new users, on them."""
    head, second, refs = protocol.headline, protocol.second, protocol.references
    order = by_headline(summary, protocol).iloc[::-1]
    short = {"method": "{}", "control": "{} (control)", "bound": "routing oracle (test bound)"}
    labels = [short[r["role"]].format(m) for m, r in order.iterrows()]
    height = max(6.0, 0.38 * len(order) + 2.5)
    n_panels = 4 if new_users is None else 5
    fig, axes = plt.subplots(
        1, n_panels, figsize=(5.5 * n_panels, height), gridspec_kw={"width_ratios": [1] * n_panels}
    )
    for a in axes[1:4]:
        a.sharey(axes[0])
        a.tick_params(labelleft=False)
    ys = range(len(order))
    _dot_panel(
        axes[0], order, head, f"{_label(head)} (headline)", f"{_label(head)}, mean over personas", refs
    )
    _dot_panel(axes[1], order, second, _label(second), f"{_label(second)}, mean over personas", refs)
    ax = axes[2]
    if "base" in per_persona:
        base = per_persona["base"][head].astype(float)
        gains = [
            (per_persona[m][head].astype(float) - base).dropna()
            if m in per_persona
            else pd.Series(dtype=float)
            for m in order.index
        ]
        ax.boxplot(
            [g.to_numpy() for g in gains],
            positions=list(ys),
            orientation="horizontal",
            widths=0.6,
            showfliers=False,
        )
        rng = np.random.default_rng(0)
        for y, g in zip(ys, gains, strict=True):
            ax.scatter(g, y + rng.uniform(-0.15, 0.15, len(g)), s=9, alpha=0.6, color="tab:gray")
        ax.axvline(0, color="black", lw=0.8)
    ax.set_title(f"{_label(head)} gain over base, per persona", fontsize=10)
    ax.set_xlabel(f"persona's {_label(head)} minus base's")
    ax = axes[3]
    gpu, cpu = order["cost_gpu_job_s"].fillna(0.0), order["cost_cpu_job_s"].fillna(0.0)
    ax.barh(list(ys), gpu, color="tab:purple", label="GPU-rule jobs")
    ax.barh(list(ys), cpu, left=gpu, color="tab:olive", label="CPU-rule jobs")
    ax.set_title("Cost: wall seconds of the jobs behind each row", fontsize=10)
    ax.set_xlabel("seconds (training + evaluation; GPU rules ran on CPU if no GPU)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=8)
    axes[0].set_yticks(list(ys), labels)
    if new_users is not None:
        ax = axes[4]
        cold = by_headline(new_users, protocol).iloc[::-1]
        n_new = int(cold["n_personas"].iloc[0])
        _dot_panel(
            ax,
            cold,
            head,
            f"New users (cold start, {n_new} held-out personas): {_label(head)}",
            f"{_label(head)}, mean over new users",
            refs,
        )
        ax.set_yticks(range(len(cold)), list(cold.index))
    for a in axes:
        a.grid(axis="x", alpha=0.3)
    methods = order[order["role"] != "bound"]
    n, n_routine = int(methods["n_turns"].iloc[0]), int(methods["routine_n_turns"].iloc[0])
    fig.suptitle(
        f"AdaptCommand: every method on the same {n} test turns ({n_routine} routine turns), greedy "
        "decoding. Blue: methods; orange squares: controls; gray diamond: routing oracle chosen on test "
        "(not a method).",
        fontsize=11,
    )
    fig.tight_layout()
    _save(fig, path)


def per_persona_figure(
    summary: pd.DataFrame, per_persona: dict[str, pd.DataFrame], path: str, protocol: Protocol
) -> None:
    """Who gains and who loses: per persona (rows) and method (columns, in the figure's order), the
    persona's headline minus base's, on a diverging scale centred on 0 (values written when they fit)."""
    names = [m for m in summary.index if m in per_persona and m != "base"]
    if "base" not in per_persona or not names:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "no base to compare with", ha="center", va="center")
        ax.axis("off")
        _save(fig, path)
        return
    head = protocol.headline
    base = per_persona["base"][head].astype(float)
    gains = pd.DataFrame({m: per_persona[m][head].astype(float) - base for m in names})
    gains = gains.loc[sorted(gains.index)]
    limit = float(np.nanmax(np.abs(gains.to_numpy()))) if np.isfinite(gains.to_numpy()).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.0 * len(names) + 3, 0.28 * len(gains) + 2.5))
    image = ax.imshow(gains.to_numpy(), cmap="RdBu", vmin=-limit or -1, vmax=limit or 1, aspect="auto")
    ax.set_xticks(
        range(len(names)), [f"{m} (control)" if summary.loc[m, "role"] == "control" else m for m in names]
    )
    ax.tick_params(axis="x", rotation=60)
    ax.set_yticks(range(len(gains)), list(gains.index), fontsize=7 if len(gains) > 40 else 9)
    if len(gains) * len(names) <= 600:
        for i, row in enumerate(gains.to_numpy()):
            for j, v in enumerate(row):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label=f"{_label(head)} minus base's (per persona)")
    wins = (gains > 0).sum()
    ax.set_title(
        f"Per persona: {_label(head)} gain over base (blue: gains, red: losses). Personas gaining: "
        + ", ".join(f"{m} {wins[m]}/{gains[m].notna().sum()}" for m in names[:6])
        + (" ..." if len(names) > 6 else ""),
        fontsize=9,
    )
    fig.tight_layout()
    _save(fig, path)


def _rows_meta(names: list[str], controls: list[str], metrics: dict[str, dict]) -> dict[str, dict]:
    """{name: role, n_turns, n_personas, micro, macro} of every row."""
    return {
        m: {
            "role": "control" if m in controls else "method",
            "n_turns": metrics[m]["n_turns"],
            "n_personas": metrics[m]["n_personas"],
            "micro": metrics[m]["micro"],
            "macro": metrics[m]["macro"],
        }
        for m in names
    }


def by_headline(summary: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """Rows ranked by the headline's mean over personas (best first; ties keep their order)."""
    key = wide_name(protocol.headline, "persona_mean")
    return summary.sort_values(key, ascending=False, na_position="last", kind="stable")


def _write_csv(table: pd.DataFrame, path: str) -> None:
    tmp = Path(str(path) + ".tmp")
    table.to_csv(tmp)
    tmp.replace(path)


def new_user_summary(
    methods: list[str],
    metrics_files: list[str],
    per_persona_files: list[str],
    benchmarks: dict[str, dict[str, list[str]]],
    protocol: Protocol,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The cold-start table (the columns of summary.csv) of `methods` on the new users' test split."""
    metrics, per_persona = load_results(methods, metrics_files, per_persona_files)
    costs = {m: method_costs(benchmarks[m]) for m in methods if m in benchmarks}
    long = summary_long(_rows_meta(methods, [], metrics), per_persona, costs, protocol)
    return by_headline(to_wide(long), protocol), per_persona


def write_comparison(
    methods: list[str],
    controls: list[str],
    metrics_files: list[str],
    per_persona_files: list[str],
    benchmarks: dict[str, dict[str, list[str]]],
    out: dict[str, str],
    protocol: Protocol,
    oracle: str = "",
    new_users: dict | None = None,
) -> pd.DataFrame:
    """`methods` then `controls` (metrics/per-persona files in that order); `benchmarks`: {method:
    {"gpu": [...], "cpu": [...]}} benchmark files of the jobs behind it; `protocol`: what is claimed
    and checked (config compare); `oracle`: oracle.json or ""; `new_users`: {"methods", "metrics",
    "per_persona", "benchmarks"} of the cold-start evaluation (written to out["cold_start"] and drawn
    as the figure's last panel), or None.

    `out`: figure, summary (CSV), markdown, latex, per_persona (figure), controls (JSON), cold_start."""
    names = list(methods) + list(controls)
    metrics, per_persona = load_results(names, metrics_files, per_persona_files)
    meta = _rows_meta(names, list(controls), metrics)
    tables = dict(per_persona)
    if oracle:
        tables[ORACLE_LABEL] = oracle_table(oracle, per_persona)
        meta[ORACLE_LABEL] = {"role": "bound", "n_personas": len(tables[ORACLE_LABEL])}
    costs = {m: method_costs(benchmarks[m]) for m in names if m in benchmarks}
    summary = by_headline(to_wide(summary_long(meta, tables, costs, protocol)), protocol)
    checks = control_checks(summary, list(controls), protocol)
    cold = None
    if new_users:
        cold, _ = new_user_summary(
            new_users["methods"],
            new_users["metrics"],
            new_users["per_persona"],
            new_users["benchmarks"],
            protocol,
        )
        _write_csv(cold, out["cold_start"])
    _write_csv(summary, out["summary"])
    Path(out["markdown"]).write_text(to_markdown(summary, checks, protocol, cold))
    Path(out["latex"]).write_text(to_latex(summary, protocol, cold))
    Path(out["controls"]).write_text(json.dumps(checks, indent=2) + "\n")
    figure(summary, per_persona, out["figure"], protocol, cold)
    per_persona_figure(summary, per_persona, out["per_persona"], protocol)
    return summary
