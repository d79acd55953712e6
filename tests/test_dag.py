"""DAG scale: the full-size experiment (config/config.yaml, 200 personas x 50 sessions) plans in seconds.

A dry run only (nothing is built or downloaded): data.source is switched to synthetic so that no
Hub access is implied; the persona list and every per-persona rule depend on data.n_personas only.
benchmarks/dag_scale.sh times the same dry run.
"""

from __future__ import annotations

import subprocess
import time

from helpers import REPO, planned_jobs, snakemake_cmd

N_PERSONAS = 200
# Per-persona rules (one job per evaluated persona) that the DAG may contain; train_persona must.
PER_PERSONA_RULES = (
    "train_persona",
    "train_hybrid",
    "train_prefix_persona",
    "train_prefix_unified_persona",
    "merge_neighbors",
)
MAX_DRY_RUN_S = 10.0


def test_full_size_dry_run_plans_every_persona_quickly(tmp_path):
    overlay = tmp_path / "synthetic.yaml"
    overlay.write_text("data:\n  source: synthetic\n")
    cmd = snakemake_cmd(
        tmp_path / "work",
        [REPO / "config" / "config.yaml", overlay],
        "--workflow-profile",
        "none",
        "--dry-run",
        cores=4,
    )
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-5000:]

    jobs = planned_jobs(proc)
    assert jobs.get("train_persona") == N_PERSONAS, jobs
    for rule in PER_PERSONA_RULES:  # config/config.yaml evaluates every method
        assert jobs.get(rule) == N_PERSONAS, (rule, jobs)
    # A rule with at least one job per persona has exactly k jobs per persona: a wildcard or input
    # function bug that drops or duplicates personas shows up here.
    for rule, n in jobs.items():
        assert n < N_PERSONAS or n % N_PERSONAS == 0, (rule, n, jobs)
    print(f"dry run: {sum(jobs.values())} jobs planned in {elapsed:.1f} s")
    assert elapsed < MAX_DRY_RUN_S, f"dry run took {elapsed:.1f} s (limit {MAX_DRY_RUN_S} s)"
