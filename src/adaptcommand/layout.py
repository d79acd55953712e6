"""Where a run's learned files live, and how per-persona jobs are cut.

A path names what a file is, never how the job that wrote it was scheduled:

- the adapter of one unit of a method: ``models/<method>/<unit>/`` (unit = a persona id, a cluster
  id, or ``all`` for one adapter shared by every persona);
- the manifest of a method, ``models/<method>/adapters.json`` (unit -> directory, recipe, seed, what
  was selected on val; and which unit serves which persona): the only thing that later steps read to
  find its adapters; ``models/<method>/new_users.json`` the same for the new users where the method
  serves them with adapters of their own or a cluster's.

`packs` says which personas one job trains (``resources.pack_size``): a pack job declares its
members' directories as its outputs, so changing the pack size renames nothing and re-runs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from adaptcommand.methods import kind_of

__all__ = [
    "ALL",
    "COLD_START_RULES",
    "benchmark_globs",
    "cost_rules",
    "manifest",
    "manifest_for",
    "new_user_manifest",
    "packs",
    "unit_dir",
]

ALL = "all"  # the unit of a method with one adapter for every persona (scope all)
COLD = "cold_start"  # the evaluation set of the new users


def unit_dir(method: str, unit: str) -> str:
    return f"models/{method}/{unit}"


def manifest(method: str) -> str:
    return f"models/{method}/adapters.json"


def new_user_manifest(method: str) -> str:
    return f"models/{method}/new_users.json"


# What serving the new users takes besides the method's own adapters, by the table's cold_start field:
# the rules whose jobs are part of its cost on them (rules/cold_start.smk).
COLD_START_RULES = {
    "nearest_cluster": lambda m: ["assign_new_users"],
    "nearest_personas": lambda m: ["assign_new_users", f"{m}_new_users"],
}


def manifest_for(method: str, entry: dict, split: str) -> list[str]:
    """The manifest an evaluation of `method` on evaluation set `split` reads ([] for the base)."""
    if not kind_of(entry).adapters:
        return []
    if split == COLD and entry["cold_start"] in COLD_START_RULES:
        return [new_user_manifest(method)]
    return [manifest(method)]


def packs(ids: Sequence[str], size: int) -> dict[str, list[str]]:
    """{label: members}: `ids` in consecutive packs of `size` (0 = one pack of all), labelled by their
    first and last member ("persona_000-persona_003", or "persona_007" for a pack of one). The label
    names the job (its rule, log and benchmark), never an output."""
    size = size or len(ids)
    chunks = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
    return {c[0] if len(c) == 1 else f"{c[0]}-{c[-1]}": c for c in chunks}


def benchmark_globs(rule: str) -> list[str]:
    """The benchmark files of every job of `rule`: results/benchmarks/<rule>.tsv for a rule of one job,
    results/benchmarks/<rule>/<job>.tsv for a rule of several (or a family of pack rules)."""
    return [f"results/benchmarks/{rule}.tsv", f"results/benchmarks/{rule}/*.tsv"]


def cost_rules(method: str, table: dict[str, dict], split: str, candidates: Sequence[str] = ()) -> list[str]:
    """The rules whose jobs a method's results on `split` took: its training-side rules (the table's
    `rules`), what serving new users took (cold_start), and for a method that composes its candidates'
    predictions (routing) everything behind each candidate's val and test results. Evaluation jobs
    are listed as "<evaluation rule>/<split>_<method>"."""
    entry = table[method]
    rules = [f"{kind_of(entry).evaluation}/{split}_{method}", *entry["rules"]]
    if split == COLD and entry["cold_start"] in COLD_START_RULES:
        rules += COLD_START_RULES[entry["cold_start"]](method)
    if not kind_of(entry).generates:
        for c in candidates:
            rules += [f"evaluate/val_{c}", *cost_rules(c, table, split)]
    return list(dict.fromkeys(rules))


def units_of(outputs: Sequence[str], members: dict[str, list[str]] | None = None):
    """({unit: its personas}, {unit: its directory}) of a training or merge job from its output
    directories (models/<method>/<unit>): `members` gives a cluster's or an all-persona unit's
    personas; without it every output is a persona of a pack, trained alone."""
    from pathlib import Path

    dirs = {Path(out).name: str(out) for out in outputs}
    units = {u: list(members[u]) if members else [u] for u in dirs}
    return units, dirs
