"""What a method's results cost: the Snakemake `benchmark:` files of the jobs behind them.

A method's cost on an evaluation set is the wall and CPU time of every job its results took: its
evaluation, the rules that train or merge it (`cost_rules`, from the method table), what serving new
users took, and for routing everything behind each candidate. `cost_files` lists those jobs'
benchmark files for the configured seeds as glob patterns (`benchmark_globs`), a packed evaluation's
as ``[file, share]``; `job_seconds` sums them.

Packs: the benchmark of a job that trained a pack of personas is named after the pack
(``train_persona/seed1/persona_000-persona_003.tsv``), so the patterns do not depend on
`resources.pack_size` (a new pack size re-plans nothing). After a new pack size AND a re-run, the
old packs' files are still on disk beside the new ones: `current_files` counts, of files whose
labels cover the same units, only the newest (the job that made those units last).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence

from adaptcommand import layout
from adaptcommand.methods import kind_of

__all__ = [
    "COLD_START_RULES",
    "COST_COLUMNS",
    "benchmark_globs",
    "cost_files",
    "cost_rules",
    "current_files",
    "job_seconds",
    "method_costs",
]

COST_COLUMNS = ("cost_gpu_job_s", "cost_cpu_job_s", "cost_wall_s", "cost_cpu_time_s")

# What serving the new users takes besides the method's own adapters, by the table's cold_start field:
# the rules whose jobs are part of its cost on them (rules/cold_start.smk).
COLD_START_RULES = {
    "nearest_cluster": lambda m: ["assign_new_users"],
    "nearest_personas": lambda m: ["assign_new_users", f"{m}_new_users"],
}


def cost_rules(method: str, table: dict[str, dict], split: str, candidates: Sequence[str] = ()) -> list[str]:
    """The rules whose jobs a method's results on `split` took: its training-side rules (the table's
    `rules`), what serving new users took (cold_start), and for a method that composes its candidates'
    predictions (routing) everything behind each candidate's val and test results. Evaluation jobs
    are listed as "<evaluation rule>/<split>_<method>"."""
    entry = table[method]
    rules = [f"{kind_of(entry).evaluation}/{split}_{method}", *entry["rules"]]
    if split == layout.COLD and entry["cold_start"] in COLD_START_RULES:
        rules += COLD_START_RULES[entry["cold_start"]](method)
    if not kind_of(entry).generates:
        for c in candidates:
            rules += [f"evaluate/val_{c}", *cost_rules(c, table, split)]
    return list(dict.fromkeys(rules))


def benchmark_globs(rule: str, runs: Sequence[str]) -> list[str]:
    """The benchmark files of the jobs of `rule` for the `runs` of this config (seed<s>, untrained):
    results/benchmarks/<rule>.tsv (one job), <rule>/<run>.tsv (one per run), <rule>/<run>/<job>.tsv
    (several per run: packs, clusters) and <rule>/<job>.tsv of jobs that no seed has (e.g. a split's
    retrieval). A seed no longer configured is left out (its files stay on disk)."""
    root = layout.benchmark(rule)[: -len(".tsv")]
    per_run = [p for r in runs for p in (f"{root}/{r}.tsv", f"{root}/{r}/*.tsv")]
    return [f"{root}.tsv", f"{root}/[!s]*.tsv", *per_run]


def cost_files(
    method: str,
    table: dict[str, dict],
    split: str,
    seeds: Sequence[int],
    candidates: Sequence[str],
    eval_packs: dict[str, dict[str, list[str]]],
    on_gpu: Callable[[str], bool],
) -> dict[str, list]:
    """{"gpu" | "cpu": benchmark patterns of the jobs behind `method` on `split`}, by whether
    `on_gpu(rule family)`; a packed evaluation's (`eval_packs`, scheduling.eval_packs) as
    [file, 1 / its methods]: each member pays its share of the pack's job."""
    out = {"gpu": [], "cpu": []}
    all_runs = [layout.run_of(s) for s in seeds] + [layout.UNTRAINED]
    packed = {
        f"evaluate/{s}_{m}": (s, label, len(members))
        for s, chunks in eval_packs.items()
        for label, members in chunks.items()
        for m in members
    }
    for name in cost_rules(method, table, split, candidates):
        if name in packed:
            s, label, n = packed[name]
            files = [[layout.benchmark("evaluate_pack", s, r, label), 1 / n] for r in all_runs]
        else:
            files = benchmark_globs(name, all_runs)
        out["gpu" if on_gpu(name.split("/")[0]) else "cpu"] += files
    return out


def _units(label: str) -> tuple[str, str]:
    """The units a pack label covers, as the interval (first, last) of ids in their order."""
    first, _, last = label.partition("-")
    return first, last or first


def current_files(files: Sequence[str]) -> list[str]:
    """Of benchmark files in one directory (one rule and run), those of the jobs that made the units
    last: a file whose label's units overlap a newer file's (an older pack size) is left out."""
    by_dir: dict[str, list[str]] = {}
    for f in files:
        by_dir.setdefault(os.path.dirname(f), []).append(f)
    keep = []
    for group in by_dir.values():
        newest_first = sorted(group, key=lambda f: (-os.stat(f).st_mtime_ns, f))
        taken: list[tuple[str, str]] = []
        for f in newest_first:
            first, last = _units(os.path.basename(f).removesuffix(".tsv"))
            if not any(first <= b and a <= last for a, b in taken):
                keep.append(f)
            taken.append((first, last))
    return sorted(keep)


def job_seconds(benchmark_files: list) -> tuple[float, float]:
    """(wall seconds, CPU seconds) summed over the Snakemake `benchmark:` files (globs allowed, `**`
    for any depth) that exist, each counted once and only if current (`current_files`). An entry
    ``[pattern, share]`` counts `share` of each of its files: a job that served several methods at once
    (an evaluation pack) is split between them."""
    import pandas as pd

    shares: dict[str, float] = {}
    for entry in benchmark_files:
        pattern, share = (entry, 1.0) if isinstance(entry, str) else (entry[0], float(entry[1]))
        for f in current_files(glob.glob(pattern, recursive=True)):
            shares.setdefault(f, share)
    wall = cpu = 0.0
    for f in sorted(shares):
        t = pd.read_csv(f, sep="\t")
        wall += shares[f] * float(t["s"].mean())
        cpu += shares[f] * (float(t["cpu_time"].mean()) if "cpu_time" in t else 0.0)
    return wall, cpu


def method_costs(benchmarks: dict[str, list], n_runs: int = 1) -> dict[str, float]:
    """COST_COLUMNS per run from {"gpu": benchmark files of GPU-rule jobs, "cpu": of CPU-rule jobs}
    behind all `n_runs` runs of a method."""
    gpu_wall, gpu_cpu = (v / n_runs for v in job_seconds(benchmarks.get("gpu", [])))
    cpu_wall, cpu_cpu = (v / n_runs for v in job_seconds(benchmarks.get("cpu", [])))
    return dict(zip(COST_COLUMNS, (gpu_wall, cpu_wall, gpu_wall + cpu_wall, gpu_cpu + cpu_cpu), strict=True))
