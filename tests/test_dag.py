"""DAG scale: the full-size experiment (config/config.yaml, 200 personas x 50 sessions) plans in seconds,
with the default settings and through the real SLURM profile (job groups included).

A dry run only (nothing is built or downloaded): data.source is switched to synthetic so that no
Hub access is implied; the persona list and every per-persona rule depend on data.n_personas only.
benchmarks/dag_scale.sh times the same dry run.
"""

from __future__ import annotations

import re
import resource
import subprocess
import time

import yaml
from helpers import REPO, effective_config, planned_jobs, snakemake_cmd

from adaptcommand.profiles import NEW_USERS_SUFFIX

N_PERSONAS = 200
# Per-persona rules (one job per evaluated persona) that the DAG may contain; train_persona must.
PER_PERSONA_RULES = (
    "train_persona",
    "train_hybrid",
    "train_prefix_persona",
    "train_prefix_unified_persona",
    "merge_neighbors",
)
# Limits on the dry run's CPU seconds (its own work, whatever else the machine runs: the test suite
# runs two files at once); the wall time may be at most twice that. Absolute limits are loose (these
# machines differ: the same 2935-job plan took 13.4 CPU s in one session and 18.5-20.9 s idle in
# another); how the planning time grows with the personas is checked against a small plan instead.
MAX_DRY_RUN_S = 40.0  # three seeds: three times the jobs of one (one seed took 6-8 s)
MAX_SLURM_DRY_RUN_S = 60.0  # with job groups; was > 11 min before the merges read one manifest
SMALL_PERSONAS = 40  # the small plan: 727 jobs against 2935, in 8.4 CPU s against ~19
MAX_GROWTH = 4.0  # CPU s of the full plan over the small one (linear: ~2.3; quadratic: > 10)


def full_size_dry_run(
    tmp_path,
    *args: str,
    cores: int | None,
    timeout: int,
    cold_start: int = 0,
    n_personas: int = 0,
    overlays=(),
):
    """The full experiment (config/config.yaml on synthetic data of the real size, or of `n_personas`)
    as a dry run: (the finished process, CPU seconds it took, wall seconds); `cold_start`: that many
    of the personas are new users."""
    size = f"  n_personas: {n_personas}\n" if n_personas else ""
    overlay = tmp_path / f"synthetic{n_personas or ''}.yaml"
    overlay.write_text(f"data:\n  source: synthetic\n{size}personas:\n  cold_start: {cold_start}\n")
    cmd = snakemake_cmd(
        tmp_path / f"work{n_personas or ''}",
        [REPO / "config" / "config.yaml", *overlays, overlay],
        *args,
        "--workflow-profile",
        "none",
        "--dry-run",
        cores=cores,
    )
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert proc.returncode == 0, proc.stderr[-5000:]
    print(f"dry run: {cpu:.1f} CPU s, {wall:.1f} s wall")
    return proc, cpu, wall


N_NEW_USERS = 20  # the default-profile run also holds out new users (the SLURM-profile one none)
N_SEEDS = len(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["train"]["seeds"])


def test_full_size_dry_run_plans_every_persona_quickly(tmp_path):
    proc, elapsed, wall = full_size_dry_run(tmp_path, cores=4, timeout=120, cold_start=N_NEW_USERS)

    jobs = planned_jobs(proc)
    known = N_PERSONAS - N_NEW_USERS
    assert N_SEEDS == 3 and jobs.get("train_persona") == known * N_SEEDS, jobs  # one per persona and seed
    for rule in PER_PERSONA_RULES:  # config/config.yaml evaluates every method
        assert jobs.get(rule) == known * N_SEEDS, (rule, jobs)
    # A rule with at least one job per persona has exactly k jobs per persona: a wildcard or input
    # function bug that drops or duplicates personas shows up here.
    for rule, n in jobs.items():
        assert n < known or n % known == 0, (rule, n, jobs)
    # The new users: one job for their split (assignment and merges behind the clustering checkpoint);
    # one card per method and run: the base's untrained run, every other method's per seed.
    untrained = 3  # base, retrieval, persona_prompt: one untrained card each; 14 learned + the control
    assert jobs.get("split_new_users") == 1 and jobs.get("method_card") == untrained + 15 * N_SEEDS, jobs
    print(f"dry run: {sum(jobs.values())} jobs planned in {elapsed:.1f} s")
    assert elapsed < MAX_DRY_RUN_S, f"dry run took {elapsed:.1f} CPU s (limit {MAX_DRY_RUN_S} s)"
    assert wall < 2 * MAX_DRY_RUN_S, f"dry run took {wall:.1f} s (limit {2 * MAX_DRY_RUN_S} s)"
    # The planning cost grows with the personas like the jobs do, on this machine, now.
    small, small_cpu, _ = full_size_dry_run(
        tmp_path, cores=4, timeout=120, cold_start=SMALL_PERSONAS // 10, n_personas=SMALL_PERSONAS
    )
    n_small = sum(planned_jobs(small).values())
    print(f"small dry run: {n_small} jobs planned in {small_cpu:.1f} s")
    assert 3 * n_small < sum(jobs.values()), (n_small, sum(jobs.values()))
    assert elapsed < MAX_GROWTH * small_cpu, (
        f"{elapsed:.1f} CPU s for the full plan, {small_cpu:.1f} for the small"
    )


def test_the_full_size_learning_curve_plans_every_budget_of_every_persona(tmp_path):
    """config/curve.yaml on the full experiment (200 personas, budgets 3, 6, 12 and all 30 train
    sessions, 3 seeds): every per-persona training once per persona, seed and budget, the smaller
    budgets' splits and the comparison; the controls at the full history only."""
    proc, elapsed, wall = full_size_dry_run(
        tmp_path, cores=4, timeout=240, overlays=[REPO / "config" / "curve.yaml"]
    )
    jobs = planned_jobs(proc)
    budgets = 4
    for rule in ("train_persona", "train_hybrid"):
        assert jobs.get(rule) == N_PERSONAS * N_SEEDS * budgets, (rule, jobs)
    assert jobs.get("train_unified") == N_SEEDS * budgets and jobs.get("budget_splits") == budgets - 1, jobs
    assert jobs.get("route") == N_SEEDS * budgets and jobs.get("compare") == 1, jobs
    print(f"curve dry run: {sum(jobs.values())} jobs planned in {elapsed:.1f} CPU s, {wall:.1f} s wall")
    assert wall < 4 * MAX_DRY_RUN_S, f"dry run took {wall:.1f} s"


# What the real SLURM profile makes of every job of the full experiment, read from its dry run.
GPU_PARTITION = "EDIT_ME_gpu_partition"  # profiles/slurm `config:` (placeholder until a site edits it)
CPU_PARTITION = "EDIT_ME_partition"  # profiles/slurm default-resources
MAX_GROUP_MINUTES = 240  # the GPU partition limit the profile's group sizes are documented against
JOB_BLOCK = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) ([\w.\-]+):\n((?:^\s+\w+: .*\n)+)", re.MULTILINE)


def _resources(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.split(", "))


def test_full_size_plan_through_the_slurm_profile(tmp_path):
    """The cluster user's first command (`--profile profiles/slurm`, groups included) at full size:
    one job per persona for every per-persona rule, in well under a minute, and resources a cluster
    accepts: every GPU rule (and only those) on the GPU partition with one GPU, group wall time under
    the partition limit, memory for the model in the CPU rules that load it."""
    proc, elapsed, wall = full_size_dry_run(
        tmp_path, "--profile", str(REPO / "profiles" / "slurm"), cores=None, timeout=180
    )
    jobs = planned_jobs(proc)
    for rule in PER_PERSONA_RULES:
        assert jobs.get(rule) == N_PERSONAS * N_SEEDS, (rule, jobs)
    print(f"SLURM-profile dry run: {sum(jobs.values())} jobs planned in {elapsed:.1f} s")
    assert elapsed < MAX_SLURM_DRY_RUN_S, f"took {elapsed:.1f} CPU s (limit {MAX_SLURM_DRY_RUN_S} s)"
    assert wall < 2 * MAX_SLURM_DRY_RUN_S, f"took {wall:.1f} s (limit {2 * MAX_SLURM_DRY_RUN_S} s)"

    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    text = proc.stdout + proc.stderr
    seen: dict[str, dict[str, str]] = {}
    for m in JOB_BLOCK.finditer(text):
        fields = dict(line.strip().split(": ", 1) for line in m.group(2).splitlines())
        if "resources" in fields:
            seen.setdefault(m.group(1).split(".")[0], _resources(fields["resources"]))  # per rule family
    gpu_rules = {r for r, res in seen.items() if res.get("gpu") == "1"}
    assert {"train_unified", "evaluate", *PER_PERSONA_RULES[:-1]} <= gpu_rules, sorted(gpu_rules)
    assert not gpu_rules & {"merge_neighbors", "cluster_personas", "route", "compare", "clean_data"}
    for rule, res in seen.items():
        want = GPU_PARTITION if rule in gpu_rules else CPU_PARTITION
        assert res.get("slurm_partition") == want, (rule, res)
        assert 0 < int(res["runtime"]) <= MAX_GROUP_MINUTES, (rule, res)
    demo_only = set(effective_config(REPO / "config" / "demo.yaml")["variants"])  # the TIES / DARE merges
    for group, components in profile["group-components"].items():
        if group.endswith(NEW_USERS_SUFFIX) and group not in seen:
            continue  # the new users' merges: this plan has none (personas.cold_start 0)
        if group.removesuffix(NEW_USERS_SUFFIX) in demo_only:
            continue  # variants the demo declares (config/demo.yaml), not the full experiment
        assert group in seen, f"group-components names {group!r}, which is no rule family of the plan"
        minutes = components * int(seen[group]["runtime"])  # a group asks for its members' summed runtime
        assert minutes <= MAX_GROUP_MINUTES, (group, minutes)
    for rule in ("merge_neighbors", "merge_cluster"):
        if rule in seen:
            assert int(seen[rule]["mem_mb"]) >= 8000, (rule, seen[rule])


def test_smollm2_comparison_plans_every_method_from_the_converted_model(tmp_path):
    """config/smollm2.yaml at its full size (the demo's 12 personas + 3 new users, every method, the
    controls): the conversion of the GGUF is the first job, every model job depends on it, and
    everything the demo plans is planned."""
    import os

    config = effective_config(REPO / "config" / "smollm2.yaml")
    cmd = snakemake_cmd(
        tmp_path / "work",
        [REPO / "config" / "smollm2.yaml"],
        "--workflow-profile",
        "none",
        "--dry-run",
        cores=4,
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert proc.returncode == 0, proc.stderr[-5000:]
    jobs = planned_jobs(proc)
    n_scored = len(config["eval"]["methods"]) + len(config["eval"]["controls"])
    n_seeds = len(config["train"]["seeds"])
    assert jobs.get("convert_gguf_base") == 1 and "build_demo_base" not in jobs, jobs
    untrained = sum(m in ("base", "retrieval", "persona_prompt") for m in config["eval"]["methods"])
    assert jobs.get("method_card") == untrained + (n_scored - untrained) * n_seeds, jobs  # (one run each)
    for rule in ("train_unified", "train_persona", "train_hybrid", "train_prefix_persona", "train_history"):
        assert jobs.get(rule) == n_seeds, (rule, jobs)  # pack_size 0: one job per rule and seed
    assert jobs.get("split_new_users") == 1 and jobs.get("merge_neighbors_new_users") == n_seeds, jobs
    text = proc.stdout + proc.stderr
    assert (
        "input: data/cleaned/dialogs_clean.jsonl, data/splits/edgesplits.json, models/smollm2-135m-instruct"
        in text
    )
    print(f"smollm2 dry run: {sum(jobs.values())} jobs in {cpu:.1f} CPU s")
    assert cpu < MAX_DRY_RUN_S


def test_a_per_persona_family_the_slurm_profile_does_not_group_is_named(tmp_path):
    """A per-persona method profiles/slurm does not group would be one Slurm job per pack (200 with
    pack_size 1): planning names it in a warning; the demo's methods are all grouped (no warning)."""
    demo = REPO / "config" / "demo.yaml"
    overlay = tmp_path / "variant.yaml"
    overlay.write_text(
        "variants:\n  persona_r4: {of: persona, train: {r: 4, alpha: 8}}\n"
        "eval:\n  methods: [base, unified, persona, persona_r4]\n  controls: []\n"
        "routing:\n  candidates: [unified, persona]\n  default: persona\n"
    )
    warning = "group-components does not name"
    for configs, expected in (([demo], []), ([demo, overlay], ["train_persona_r4"])):
        cmd = snakemake_cmd(tmp_path / "work", configs, "--dry-run", "--workflow-profile", "none")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        named = re.findall(rf"{warning} (\S+):", proc.stdout + proc.stderr)
        assert named == expected, (named, proc.stderr[-2000:])
