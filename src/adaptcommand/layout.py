"""Where a run's learned files live, and how per-persona jobs are cut.

A path names what a file is (method, seed, unit), never how the job that wrote it was scheduled:

- the adapter of one unit of a method trained with one seed: ``models/<method>/seed<s>/<unit>/``
  (unit = a persona id, a cluster id, or ``all`` for one adapter shared by every persona);
- the manifest of a method and seed, ``models/<method>/seed<s>/adapters.json`` (unit -> directory,
  recipe, seed, what was selected on val; and which unit serves which persona): the only thing that
  later steps read to find its adapters; ``new_users.json`` beside it the same for the new users
  where the method serves them with adapters of their own or a cluster's;
- one evaluation of a method: ``results/eval/<split>/<method>/<run>/``, run = ``seed<s>`` for a
  method that learns, ``untrained`` for one that does not (the base): `runs`.

Seeds are a dimension of the experiment (config ``train.seeds``): everything that learns from data is
drawn again per seed, and adding a seed adds paths without touching the others'.

`packs` says which personas one job trains (``resources.pack_size``): a pack job declares its
members' directories as its outputs, so changing the pack size renames nothing and re-runs nothing.
`eval_packs` says which methods one job evaluates per split and seed (``resources.eval_pack_size``):
its outputs are each member's own evaluation files (`eval_files`), the same paths as one job per method.
"""

from __future__ import annotations

from collections.abc import Sequence

from adaptcommand.methods import kind_of

__all__ = [
    "ALL",
    "CLEAN",
    "NEW_CHARACTERS",
    "NEW_DIALOGS",
    "NEW_SPLITS",
    "SPLITS",
    "UNTRAINED",
    "run_of",
    "runs",
    "seed_of",
    "COLD_START_RULES",
    "benchmark_globs",
    "cost_rules",
    "eval_files",
    "eval_packs",
    "manifest",
    "manifest_for",
    "new_user_manifest",
    "packs",
    "unit_dir",
]

ALL = "all"  # the unit of a method with one adapter for every persona (scope all)
COLD = "cold_start"  # the evaluation set of the new users

# The known personas' cleaned dialogues and splits; the new users' dialogues (read by their
# evaluation only), splits and character texts.
CLEAN = "data/cleaned/dialogs_clean.jsonl"
SPLITS = "data/splits/edgesplits.json"
NEW_DIALOGS = "data/cold_start/dialogs_clean.jsonl"
NEW_SPLITS = "data/cold_start/splits.json"
NEW_CHARACTERS = "data/cold_start/characters.json"


UNTRAINED = "untrained"  # the run of a method that learns nothing (the base)


def run_of(seed: int | str) -> str:
    """The run directory of one seed: seed<s>."""
    return f"seed{seed}"


def seed_of(run: str) -> int | None:
    """The seed of a run directory (None for an untrained method's)."""
    return None if run == UNTRAINED else int(run.removeprefix("seed"))


def runs(entry: dict, seeds) -> list[str]:
    """The runs of a method: one per seed if it learns, else one untrained run."""
    return [run_of(s) for s in seeds] if entry["adapter"] != "none" else [UNTRAINED]


def unit_dir(method: str, seed: int | str, unit: str) -> str:
    return f"models/{method}/{run_of(seed)}/{unit}"


def manifest(method: str, seed: int | str) -> str:
    return f"models/{method}/{run_of(seed)}/adapters.json"


def new_user_manifest(method: str, seed: int | str) -> str:
    return f"models/{method}/{run_of(seed)}/new_users.json"


# What serving the new users takes besides the method's own adapters, by the table's cold_start field:
# the rules whose jobs are part of its cost on them (rules/cold_start.smk).
COLD_START_RULES = {
    "nearest_cluster": lambda m: ["assign_new_users"],
    "nearest_personas": lambda m: ["assign_new_users", f"{m}_new_users"],
}


def manifest_for(method: str, entry: dict, split: str, run: str) -> list[str]:
    """The manifest an evaluation of `method` (its `run`) on evaluation set `split` reads ([] for the
    base)."""
    if not kind_of(entry).adapters:
        return []
    seed = seed_of(run)
    if split == COLD and entry["cold_start"] in COLD_START_RULES:
        return [new_user_manifest(method, seed)]
    return [manifest(method, seed)]


def packs(ids: Sequence[str], size: int) -> dict[str, list[str]]:
    """{label: members}: `ids` in consecutive packs of `size` (0 = one pack of all), labelled by their
    first and last member ("persona_000-persona_003", or "persona_007" for a pack of one). The label
    names the job (its rule, log and benchmark), never an output; a pack never spans seeds (adding a
    seed adds jobs, it changes none)."""
    size = size or len(ids)
    chunks = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
    return {c[0] if len(c) == 1 else f"{c[0]}-{c[-1]}": c for c in chunks}


def eval_files(split: str, method: str, run: str) -> dict[str, str]:
    """{predictions, per_persona, metrics}: the files of one evaluation of `method` (its `run`) on
    evaluation set `split`, whichever job made them (one per method, or a pack's)."""
    root = f"results/eval/{split}/{method}/{run}"
    return dict(
        predictions=f"{root}/predictions.jsonl",
        per_persona=f"{root}/per_persona.csv",
        metrics=f"{root}/metrics.json",
    )


def eval_packs(
    by_split: dict[str, Sequence[str]], table: dict[str, dict], size: int
) -> dict[str, dict[str, list[str]]]:
    """{split: {label: methods}}: per evaluation set, the methods of `by_split[split]` that one job per
    seed evaluates one after another (imports, base model and MiniLM loaded once), `size` per job (0 =
    all; labelled as `packs` labels them). Only methods that generate their own predictions and learn
    (a run per seed) are packed; a pack of one is no pack: it and the others (the base, routing) keep
    a job each (rule evaluate)."""
    out = {}
    for split, methods in by_split.items():
        members = [
            m for m in dict.fromkeys(methods) if kind_of(table[m]).generates and table[m]["adapter"] != "none"
        ]
        chunks = {label: ms for label, ms in packs(members, size).items() if len(ms) >= 2} if members else {}
        if chunks:
            out[split] = chunks
    return out


def gpu_resources(res: dict, runtime_key: str, units: int = 1) -> dict:
    """Resources of a GPU rule, i.e. one that runs the model (config `resources` = `res`): the `gpu`
    key marks it (1 = one GPU per job; 0 on a CPU-only run such as the demo, which sbatch and the
    local scheduler then ignore), its memory, its runtime (minutes per unit, times the `units` a pack
    job makes) and, with resources.gpu_partition, the partition. Every GPU rule takes its resources
    from here, so the GPU partition reaches all of them and no CPU rule."""
    out = dict(gpu=1 if res["gpu"] else 0, mem_mb=res["gpu_mem_mb"], runtime=res[runtime_key] * units)
    if res["gpu_partition"]:
        out["slurm_partition"] = res["gpu_partition"]
    return out


def model_cpu_resources(res: dict, units: int = 1) -> dict:
    """A CPU rule that loads the base model (the merges): memory for it, its runtime (per unit, times
    the `units` of a pack job), and one `model_slot`, which profiles/slurm limits to 1 per submission
    (one model in memory at a time)."""
    return dict(mem_mb=res["model_cpu_mem_mb"], runtime=res["merge_runtime_min"] * units, model_slot=1)


def benchmark_globs(rule: str, runs: Sequence[str]) -> list[str]:
    """The benchmark files of the jobs of `rule` for the `runs` of this config (seed<s>, untrained):
    results/benchmarks/<rule>.tsv (one job), <rule>/<run>.tsv (one per run), <rule>/<run>/<job>.tsv
    (several per run: packs, clusters) and <rule>/<job>.tsv of jobs that no seed has (e.g. a split's
    retrieval). A seed no longer configured is left out (its files stay on disk)."""
    root = f"results/benchmarks/{rule}"
    per_run = [p for r in runs for p in (f"{root}/{r}.tsv", f"{root}/{r}/*.tsv")]
    return [f"{root}.tsv", f"{root}/[!s]*.tsv", *per_run]


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
    directories (models/<method>/seed<s>/<unit>): `members` gives a cluster's or an all-persona unit's
    personas; without it every output is a persona of a pack, trained alone."""
    from pathlib import Path

    dirs = {Path(out).name: str(out) for out in outputs}
    units = {u: list(members[u]) if members else [u] for u in dirs}
    return units, dirs
