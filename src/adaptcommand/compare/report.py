"""Collect every method's results into summary.csv / summary.md / summary.tex / controls.json and the
comparison figure.

Rows are methods, then controls (labelled, never methods: `persona_swapped` evaluates each persona with
another persona's adapter), then the routing oracle (an upper bound chosen on test). What is claimed
and checked is the config's protocol (`settings.Protocol`, config `compare`): the headline metric (by
default parameter F1 on routine turns, the turns whose right reply needs the user's own routine values),
the reference rows of every difference and the positive control. The controls and the per-persona gains
are differences to the row that learns nothing (`compare.table.baseline_row`: the base).
Every learned method has one run per training seed; intervals count personas and seeds
(`compare.table`, `compare.stats`).

The numbers live in one long table (`compare.table.summary_long`); summary.csv is its pooled wide form,
results/comparison/seeds/seed<s>.csv each seed's, and summary.md / summary.tex are rendered from it by
pandas (`DataFrame.to_markdown`, `Styler.to_latex`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from adaptcommand.compare.curve import crossover_sentence, curve_figure, learning_curve  # noqa: E402
from adaptcommand.compare.stats import MIN_UNITS  # noqa: E402
from adaptcommand.compare.table import (  # noqa: E402
    POOLED,
    baseline_row,
    load_runs,
    oracle_tables,
    seed_spread,
    summary_long,
    tied_with,
    to_wide,
    wide_name,
)
from adaptcommand.costs import method_costs  # noqa: E402
from adaptcommand.data.io import atomic_file  # noqa: E402
from adaptcommand.routing import ORACLE_LABEL  # noqa: E402
from adaptcommand.settings import Protocol  # noqa: E402


def control_checks(
    long: pd.DataFrame, controls: list[str], protocol: Protocol, *, baseline: str | None
) -> dict:
    """Did the controls come out as they must? On the headline minus `baseline` (the untrained row,
    `baseline_row`, one of the protocol's references; 95% interval), pooled over the seeds AND in every
    seed: the protocol's positive control above 0, every negative control (the config's eval.controls)
    not above 0."""
    metric = protocol.headline
    seeds = [s for s in dict.fromkeys(long["seed"]) if s != POOLED]
    out = {"metric": metric, "reference": baseline, "checks": []}
    names = set(long["method"])
    checks = [(protocol.positive_control, "positive")] if protocol.positive_control else []
    checks += [(c, "negative") for c in controls]
    unscored = sorted({c for c, _ in checks} - names)
    if checks and baseline not in names:
        unscored.append(baseline or "the row that learns nothing (adapter none)")
    if unscored:  # a control that cannot be checked fails loudly, never "passes" with nothing checked
        raise ValueError(f"the controls {[c for c, _ in checks]} need the rows {unscored}: not scored")
    if checks and baseline not in protocol.references:
        raise ValueError(
            f"the controls {[c for c, _ in checks]} are differences to the row that learns nothing "
            f"({baseline or 'none was evaluated'}): it must be evaluated and among compare.references "
            f"{list(protocol.references)}"
        )
    for name, kind in checks:
        per_seed = {}
        for seed in [POOLED, *seeds]:
            wide = to_wide(long, seed)
            if name not in wide.index:
                continue
            d = {k: float(wide.loc[name, wide_name(metric, f"diff_{baseline}{s}")]) for k, s in _DIFF_PARTS}
            d["passed"] = d["low"] > 0 if kind == "positive" else not d["low"] > 0
            per_seed[seed] = d
        pooled = per_seed.pop(POOLED)
        must = "CI above 0, pooled and in every seed" if kind == "positive" else "CI not above 0 in any seed"
        passed = pooled["passed"] and all(d["passed"] for d in per_seed.values())
        out["checks"].append(
            {"name": name, "kind": kind, "must": must, **pooled, "passed": passed, "seeds": per_seed}
        )
    out["passed"] = all(c["passed"] for c in out["checks"])
    return out


_DIFF_PARTS = (("diff", ""), ("low", "_low"), ("high", "_high"))


def _ci(r, metric: str) -> str:
    mean = r.get(wide_name(metric, "persona_mean"))
    if mean is None or pd.isna(mean):
        return "n/a"
    low, high = r[wide_name(metric, "ci_low")], r[wide_name(metric, "ci_high")]
    return f"{mean:.3f}" if pd.isna(low) else f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _diff(r, metric: str, ref: str) -> str:
    d = r.get(wide_name(metric, f"diff_{ref}"))
    if d is None or pd.isna(d):
        return "n/a"
    low, high = r[wide_name(metric, f"diff_{ref}_low")], r[wide_name(metric, f"diff_{ref}_high")]
    return f"{d:+.3f}" if pd.isna(low) else f"{d:+.3f} [{low:+.3f}, {high:+.3f}]"


def _ranks(r, metric: str) -> str:
    low, high = r.get(wide_name(metric, "rank_low")), r.get(wide_name(metric, "rank_high"))
    if low is None or pd.isna(low):
        return "—"
    return f"{low:.0f}" if low == high else f"{low:.0f}–{high:.0f}"


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


def display_table(summary: pd.DataFrame, protocol: Protocol, *, baseline: str | None) -> pd.DataFrame:
    """The columns of summary.md and summary.tex, as text: the headline (mean over personas and seeds
    with its 95% interval, the ranks the data allows and the rows it is tied with, its differences to
    the reference rows, the difference to `baseline` (the untrained row) it could detect, its
    pooled-turn value), the second metric (and its difference to `baseline`), then a fixed set of others
    and the cost per run."""
    head, second = protocol.headline, protocol.second
    ties = tied_with(summary, protocol)
    detectable, second_diff = {}, {}  # no columns to a baseline that was not evaluated
    if baseline is not None:
        detectable = {
            f"detectable vs {baseline}": lambda r: _num(
                r.get(wide_name(head, f"detectable_{baseline}")), ".3f"
            )
        }
        second_diff = {f"{_label(second)} vs {baseline}": lambda r: _diff(r, second, baseline)}
    columns = {
        "role": lambda r: r["role"],
        "seeds": lambda r: _num(r.get("n_seeds"), ".0f"),
        "routine turns": lambda r: _num(r.get("routine_n_turns"), ".0f"),
        f"{_label(head)} [95% CI] (headline)": lambda r: _ci(r, head),
        "rank": lambda r: _ranks(r, head),
        "tied with": lambda r: ", ".join(ties.get(r.name, [])) or "—",
        **{
            f"{_label(head)} vs {ref}": (lambda r, ref=ref: _diff(r, head, ref))
            for ref in protocol.references
        },
        **detectable,
        f"{_label(head)}, pooled turns": lambda r: _num(r.get(head), ".3f"),
        f"{_label(second)} [95% CI]": lambda r: _ci(r, second),
        **second_diff,
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


def _verdict(c: dict, head: str, baseline: str) -> str:
    seeds = "; ".join(
        f"seed {s}: {d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] {'ok' if d['passed'] else 'FAILED'}"
        for s, d in c["seeds"].items()
    )
    return (
        f"- {c['kind']} control `{c['name']}`: {head} − {baseline} = {c['diff']:+.3f} "
        f"[{c['low']:+.3f}, {c['high']:+.3f}] pooled ({seeds}), must be {c['must']}: "
        f"**{'passed' if c['passed'] else 'FAILED'}**"
    )


def to_markdown(
    summary: pd.DataFrame,
    checks: dict,
    protocol: Protocol,
    long: pd.DataFrame,
    new_users: pd.DataFrame | None = None,
    routing: dict[str, dict] | None = None,
) -> str:
    """summary.md: the pooled table, what it means, the seeds, routing's diagnostic, the controls
    (differences to their reference, checks["reference"]) and the new users."""
    head, baseline = protocol.headline, checks["reference"]
    methods = summary[summary["role"] == "method"]
    detectable = methods.get(wide_name(head, f"detectable_{baseline}"), pd.Series(dtype=float)).dropna()
    references = " / ".join(f"'vs {r}'" for r in sorted(protocol.references))
    about_detectable = [
        f"'detectable vs {baseline}': the smallest difference to {baseline} it would detect with 80% power."
    ]
    note = " ".join(
        [
            f"\nRows are ordered by the headline, **{_label(head)}** (config compare.headline; routine",
            "turns: assistant turns whose reference states a value of the session's applied routine that no",
            "context message states, so only the user's own history can supply it). Every row is scored on",
            "the same test turns (same prompts, greedy decoding), once per training seed ('seeds'). Values:",
            "mean over personas and seeds of the per-persona metric with a 95% interval for personas AND",
            "seeds (a t interval of the personas x seeds design, compare.stats.crossed_estimate; none",
            f"below {MIN_UNITS} personas); {references}: the difference, per persona and seed, with its",
            "95% interval for that one comparison (one that excludes 0 is a difference the data supports).",
            "'rank' and 'tied with' take every pairwise order as one family of claims (Holm over all the",
            "pairs, compare.stats.pairwise_claims: the chance of any false order among them is at most 5%):",
            "'rank': 1 + the rows claimed better .. the rows not claimed worse; 'tied with': the rows this",
            "run cannot order against it (the family needs more evidence than one comparison alone).",
            *(about_detectable if baseline is not None else []),
            "'pooled turns': the micro value,",
            "over all those turns at once (mean over seeds). Similarity: MiniLM cosine over all turns;",
            "stated",
            "param F1: turns confirming values the user gave (the generic skill); MAE: mean absolute error",
            "of numeric values. Roles: *control* rows check the measurement (never methods), *bound* is the",
            "routing oracle chosen on test. GPU-rule / CPU-rule s: wall time of the jobs behind one run of",
            "the row. summary.csv holds every metric, micro and macro, with every interval;",
            "results/comparison/seeds/seed<s>.csv the same for each seed alone.\n",
        ]
    )
    text = display_table(summary, protocol, baseline=baseline).to_markdown() + "\n" + note
    if len(detectable):
        text += (
            f"\nWith {int(summary['n_personas'].dropna().max())} personas and "
            f"{int(summary['n_seeds'].max())} seeds this run detects, with 80% power, a difference to "
            f"{baseline} of {detectable.min():.3f} to {detectable.max():.3f} on {_label(head)} "
            f"(median {detectable.median():.3f}); smaller true differences read as ties.\n"
        )
    spread = seed_spread(long, head)
    if spread.shape[1] > 2:
        text += (
            f"\n## Seeds\n\n{_label(head)} per seed (mean over personas) and its standard deviation "
            "across seeds:\n\n" + spread.map(lambda v: _num(v, ".3f")).to_markdown() + "\n"
        )
    if routing:
        text += (
            "\n## Routing (diagnostic)\n\nPer seed, the share of personas for which routing's val-based "
            "pick is the candidate that turned out best ON TEST (computed after the fact, never used to "
            "choose), and how many personas kept the default:\n\n"
            + pd.DataFrame(routing).T.rename_axis("seed").to_markdown()
            + "\n"
        )
    text += "\nControls:\n\n" + "\n".join(_verdict(c, head, baseline) for c in checks["checks"]) + "\n"
    if new_users is not None:
        n = int(new_users["n_personas"].dropna().max())
        why = (
            f" With {n} new users (fewer than {MIN_UNITS}) no interval is given: the values are shown, "
            "not compared."
            if n < MIN_UNITS
            else ""
        )
        text += (
            f"\n## New users (cold start)\n\n{n} personas held out of everything that learns, scored on "
            "their test split by the methods that can serve a user they never trained on "
            f"(results/comparison/cold_start.csv).{why}\n\n"
            + display_table(new_users, protocol, baseline=baseline).to_markdown()
            + "\n"
        )
    return text


def _latex_table(
    summary: pd.DataFrame, protocol: Protocol, baseline: str | None, caption: str, label: str
) -> str:
    """One booktabs table (pandas Styler: LaTeX escaping and rules done by the library)."""
    table = display_table(summary, protocol, baseline=baseline).reset_index()
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


def to_latex(
    summary: pd.DataFrame, protocol: Protocol, new_users: pd.DataFrame | None = None, *, baseline: str | None
) -> str:
    """summary.tex: booktabs tables to \\input into a paper (needs \\usepackage{booktabs}); `baseline`:
    the untrained row (`baseline_row`)."""
    n = int(summary["n_personas"].dropna().iloc[0])
    parts = [
        "% AdaptCommand comparison (results/comparison/summary.csv). Needs \\usepackage{booktabs}.",
        _latex_table(
            summary,
            protocol,
            baseline,
            f"Every method on the same test turns of {n} personas, each learned method once per training "
            "seed. Mean over personas and seeds with a 95% interval for both; "
            f"{_label(protocol.headline)} is the headline.",
            "tab:adaptcommand",
        ),
    ]
    if new_users is not None:
        k = int(new_users["n_personas"].iloc[0])
        parts.append(
            _latex_table(
                new_users,
                protocol,
                baseline,
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


def _dot_panel(
    ax, summary: pd.DataFrame, metric: str, title: str, xlabel: str, references=(), seeds=None
) -> None:
    """Methods on the y axis (one per row, so names never overlap), mean and 95% interval as a dot and
    a bar (no bar without an interval), each seed's mean as a small black tick (`seeds`: rows x seeds);
    the `references` rows' means as vertical lines."""
    for y, (m, r) in enumerate(summary.iterrows()):
        mean = r.get(f"{metric}_persona_mean")
        if pd.isna(mean):
            continue
        if seeds is not None and m in seeds.index:
            values = seeds.loc[m].drop("sd", errors="ignore").dropna()
            ax.scatter(values, [y] * len(values), marker="|", s=60, color="black", zorder=3, lw=1)
        low, high = r[f"{metric}_ci_low"], r[f"{metric}_ci_high"]
        if pd.isna(low):
            low = high = mean
        err = [[mean - low], [high - mean]]
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
            (max(high, values.max()) if seeds is not None and m in seeds.index and len(values) else high, y),
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


def save_figure(fig, path: str) -> None:
    try:
        with atomic_file(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)


def figure(
    summary: pd.DataFrame,
    per_persona: dict[str, pd.DataFrame],
    path: str,
    protocol: Protocol,
    new_users: pd.DataFrame | None = None,
    seeds: pd.DataFrame | None = None,
    *,
    baseline: str | None,
) -> None:
    """Four panels sharing one method order (by the headline): the headline (each seed's value a tick,
    the ranks the data allows in the labels), the second metric, the per-persona gain over `baseline`
    (the untrained row) on the headline, and cost; with `new_users` (the cold-start table) a
    fifth: the headline of the methods that serve new users, on them. `per_persona`: {row: per-persona
    table, mean over its seeds}."""
    head, second, refs = protocol.headline, protocol.second, protocol.references
    ref = baseline if baseline is not None else "an untrained row"
    order = by_headline(summary, protocol).iloc[::-1]
    short = {"method": "{}", "control": "{} (control)", "bound": "routing oracle (test bound)"}
    labels = [
        short[r["role"]].format(m) + (f"  [rank {_ranks(r, head)}]" if _ranks(r, head) != "—" else "")
        for m, r in order.iterrows()
    ]
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
        axes[0],
        order,
        head,
        f"{_label(head)} (headline; ticks: each seed)",
        f"{_label(head)}, mean over personas and seeds",
        refs,
        seeds,
    )
    _dot_panel(
        axes[1], order, second, _label(second), f"{_label(second)}, mean over personas and seeds", refs
    )
    ax = axes[2]
    if baseline in per_persona:
        base = per_persona[baseline][head].astype(float)
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
    ax.set_title(f"{_label(head)} gain over {ref}, per persona", fontsize=10)
    ax.set_xlabel(f"persona's {_label(head)} minus {ref}'s")
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
    save_figure(fig, path)


def per_persona_figure(
    summary: pd.DataFrame,
    per_persona: dict[str, pd.DataFrame],
    path: str,
    protocol: Protocol,
    *,
    baseline: str | None,
) -> None:
    """Who gains and who loses: per persona (rows) and method (columns, in the figure's order), the
    persona's headline minus `baseline`'s (the untrained row), on a diverging scale centred on 0
    (values written when they fit)."""
    names = [m for m in summary.index if m in per_persona and m != baseline]
    if baseline not in per_persona or not names:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "no untrained row to compare with", ha="center", va="center")
        ax.axis("off")
        save_figure(fig, path)
        return
    head = protocol.headline
    base = per_persona[baseline][head].astype(float)
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
    fig.colorbar(image, ax=ax, label=f"{_label(head)} minus {baseline}'s (per persona)")
    wins = (gains > 0).sum()
    ax.set_title(
        f"Per persona: {_label(head)} gain over {baseline} (blue: gains, red: losses). Personas gaining: "
        + ", ".join(f"{m} {wins[m]}/{gains[m].notna().sum()}" for m in names[:6])
        + (" ..." if len(names) > 6 else ""),
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, path)


def _rows_meta(controls: list[str], metrics: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """{name: {"role", "runs": {run: metrics.json}}} of every row."""
    return {
        m: {"role": "control" if m in controls else "method", "runs": runs} for m, runs in metrics.items()
    }


def by_headline(summary: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """Rows ranked by the headline's mean over personas and seeds (best first; ties keep their order)."""
    key = wide_name(protocol.headline, "persona_mean")
    return summary.sort_values(key, ascending=False, na_position="last", kind="stable")


def write_csv(table: pd.DataFrame, path: str) -> None:
    with atomic_file(path) as tmp:
        table.to_csv(tmp)


def _pooled_tables(tables: dict[str, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """{row: per persona, every metric averaged over its runs (seeds)}."""
    return {m: pd.concat(list(runs.values())).groupby(level=0).mean() for m, runs in tables.items()}


def _summary(meta, tables, benchmarks, protocol: Protocol) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the long table, its pooled wide form ranked by the headline, with the rows it ties)."""
    costs = {m: method_costs(benchmarks[m], len(tables[m])) for m in meta if m in benchmarks}
    long = summary_long(meta, tables, costs, protocol)
    summary = by_headline(to_wide(long), protocol)
    ties = tied_with(summary, protocol)
    summary["tied_with"] = [" ".join(ties.get(m, [])) for m in summary.index]
    return long, summary


def new_user_summary(
    runs: dict[str, list[str]],
    metrics_files: list[str],
    per_persona_files: list[str],
    benchmarks: dict[str, dict[str, list[str]]],
    protocol: Protocol,
) -> pd.DataFrame:
    """The cold-start table (the columns of summary.csv) of the methods of `runs` on the new users' test
    split (no intervals with fewer than 5 new users)."""
    metrics, tables = load_runs(runs, metrics_files, per_persona_files)
    return _summary(_rows_meta([], metrics), tables, benchmarks, protocol)[1]


def routing_diagnostic(oracle_paths: list[str]) -> dict[str, dict]:
    """{seed: routing's pick-vs-test-best rate and how many personas kept the default} (a diagnostic
    read after the fact from each seed's oracle.json; never used to choose)."""
    out = {}
    for path in oracle_paths:
        doc = json.loads(Path(path).read_text())
        choices = json.loads((Path(path).parent / "choices.json").read_text())
        kept = sum(v["method"] == choices.get("default") for v in choices["personas"].values())
        out[Path(path).parent.name.removeprefix("seed")] = {
            "pick = test-best": round(doc.get("routing_agrees_with_oracle", float("nan")), 3),
            "personas": len(doc["personas"]),
            "kept the default": kept,
            "val-best != default": sum(
                v.get("val_best", v["method"]) != choices.get("default") for v in choices["personas"].values()
            ),
        }
    return out


def write_comparison(
    runs: dict[str, list[str]],
    controls: list[str],
    metrics_files: list[str],
    per_persona_files: list[str],
    benchmarks: dict[str, dict[str, list[str]]],
    out: dict[str, str],
    protocol: Protocol,
    oracle: list[str] = (),
    new_users: dict | None = None,
    curve: dict | None = None,
    made_by: dict | None = None,
) -> pd.DataFrame:
    """`runs`: {row: its runs} of the methods then the `controls` (metrics / per-persona files in that
    order, run by run); `benchmarks`: {method: {"gpu": [...], "cpu": [...]}} benchmark files of the
    jobs behind all its runs; `protocol`: what is claimed and checked (config compare); `oracle`: each
    seed's oracle.json; `new_users`: {"runs", "metrics", "per_persona", "benchmarks"} of the cold-start
    evaluation (written to out["cold_start"] and drawn as the figure's last panel), or None; `curve`:
    {"runs", "metrics", "per_persona", "full", "synthetic"} of the methods at every budget of
    train.sessions (adaptcommand.compare.curve: out["curve"] CSV, out["curve_figure"], and its
    sentence at the top of summary.md), or None; `made_by`: what else the comparison was made by
    (the base model, train.sessions), recorded with the protocol and the test turns' fingerprint in
    out["protocol"] (what `adaptcommand compare-runs` checks).

    `out`: figure, summary (CSV), markdown, latex, per_persona (figure), controls (JSON), seeds (one CSV
    per seed), cold_start."""
    metrics, tables = load_runs(runs, metrics_files, per_persona_files)
    meta = _rows_meta(list(controls), metrics)
    baseline = baseline_row(protocol, tables)
    if oracle:
        tables[ORACLE_LABEL] = oracle_tables(list(oracle), tables)
        meta[ORACLE_LABEL] = {
            "role": "bound",
            "runs": {r: {"n_personas": len(t)} for r, t in tables[ORACLE_LABEL].items()},
        }
    long, summary = _summary(meta, tables, benchmarks, protocol)
    checks = control_checks(long, list(controls), protocol, baseline=baseline)
    cold = None
    if new_users:
        cold = new_user_summary(
            new_users["runs"],
            new_users["metrics"],
            new_users["per_persona"],
            new_users["benchmarks"],
            protocol,
        )
        write_csv(cold, out["cold_start"])
    write_csv(summary, out["summary"])
    for path in out.get("seeds", []):
        seed = Path(path).stem.removeprefix("seed")
        write_csv(by_headline(to_wide(long, seed), protocol), path)
    routing = routing_diagnostic(list(oracle)) if oracle else None
    markdown = to_markdown(summary, checks, protocol, long, cold, routing)
    if curve:
        _, curve_tables = load_runs(curve["runs"], curve["metrics"], curve["per_persona"])
        points = learning_curve(curve_tables, protocol, curve["full"])
        write_csv(points.set_index(["method", "sessions", "metric"]), out["curve"])
        save_figure(curve_figure(points, protocol), out["curve_figure"])
        markdown = crossover_sentence(points, protocol, curve["synthetic"]) + "\n\n" + markdown
    Path(out["markdown"]).write_text(markdown)
    Path(out["latex"]).write_text(to_latex(summary, protocol, cold, baseline=baseline))
    Path(out["controls"]).write_text(json.dumps(checks, indent=2) + "\n")
    if "protocol" in out:
        fingerprint = next(doc["targets_fingerprint"] for runs in metrics.values() for doc in runs.values())
        record = dict(dataclasses.asdict(protocol), targets_fingerprint=fingerprint, **(made_by or {}))
        Path(out["protocol"]).write_text(json.dumps(record, indent=2) + "\n")
    pooled = _pooled_tables(tables)
    figure(
        summary,
        pooled,
        out["figure"],
        protocol,
        cold,
        seed_spread(long, protocol.headline),
        baseline=baseline,
    )
    per_persona_figure(summary, pooled, out["per_persona"], protocol, baseline=baseline)
    return summary
