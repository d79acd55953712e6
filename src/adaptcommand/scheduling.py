"""How jobs are cut and what they ask of the scheduler; never where their files live (adaptcommand.layout).

`packs` says which personas one job trains (``resources.pack_size``): a pack job declares its
members' directories as its outputs, so changing the pack size renames nothing and re-runs nothing.
`eval_packs` says which methods one job evaluates per split and seed (``resources.eval_pack_size``):
its outputs are each member's own evaluation files (`layout.eval_files`), the same paths as one job per
method. `gpu_resources` and `model_cpu_resources` are the resources of the rules that run the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adaptcommand.methods import kind_of

__all__ = ["AdapterJob", "eval_packs", "gpu_resources", "model_cpu_resources", "packs"]


@dataclass(frozen=True)
class AdapterJob:
    """One family of jobs that write adapter directories (a training or a merge), as the one rule that
    makes every adapter (rules/adapters.smk) declares it: rule `name` (the family, or
    "<family>.<label>" for a pack), outputs models/<method>/seed{seed}/<unit> for each of `units`
    (an id, or a wildcard such as "{cluster_id}"), log and benchmark <family>/seed{seed}[/<label>]."""

    family: str
    method: str
    units: Sequence[str]
    script: str  # the rule script (workflow/scripts/)
    inputs: dict
    params: dict
    resources: dict
    label: str = ""  # the pack or the wildcard that names a job of the family
    priority: int = 0
    group: str | None = None  # profiles/slurm submits a group's jobs together (group-components)

    @property
    def name(self) -> str:
        return f"{self.family}.{self.label}" if self.label and "{" not in self.label else self.family

    @property
    def job(self) -> list[str]:
        """The job's name under its family, for its log and benchmark."""
        return ["seed{seed}", *([self.label] if self.label else [])]


def packs(ids: Sequence[str], size: int) -> dict[str, list[str]]:
    """{label: members}: `ids` in consecutive packs of `size` (0 = one pack of all), labelled by their
    first and last member ("persona_000-persona_003", or "persona_007" for a pack of one). The label
    names the job (its rule, log and benchmark), never an output; a pack never spans seeds (adding a
    seed adds jobs, it changes none)."""
    size = size or len(ids)
    chunks = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
    return {c[0] if len(c) == 1 else f"{c[0]}-{c[-1]}": c for c in chunks}


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
