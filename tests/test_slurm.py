"""The real workflow through sbatch: profiles/slurm + profiles/slurm-ci on the local CI Slurm.

A shrunk demo (config/demo.yaml + tests/configs/slurm-slice.yaml: 4 personas, a tiny base model,
1 epoch; every kind of GPU job: unified, persona, hybrid, prefix, cluster, evaluation; and the CPU
jobs of merge_neighbors and routing) runs from raw data to the comparison in a temporary directory,
exactly as README's cluster command does (`--profile profiles/slurm --workflow-profile none`) with
the CI overlay on top, under `timeout -k 10` (the slurm executor can wait forever and ignores
SIGTERM). Checked: every job was an sbatch submission with a Slurm job id and a kept Slurm log;
GPU rules asked for `--gpus=1` on the GPU partition and Slurm gave them a device (CUDA_VISIBLE_DEVICES
in the job), CPU rules asked for none, on the default partition, and got none; the 4 jobs of each
per-persona rule went out as ONE group submission whose wall time is the sum of its members'; an
immediate re-run with the same command has nothing to do.

Skipped unless the local cluster of scripts/slurm-ci.sh is up (`scripts/slurm-ci.sh install &&
scripts/slurm-ci.sh start`; .ci/run does this). ADAPTCOMMAND_REQUIRE_SLURM=1 turns the skip into a
failure (CI sets it, so a cluster that did not come up cannot pass silently).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import REPO, snakemake_cmd

pytestmark = pytest.mark.slurm

OVERLAY = REPO / "tests" / "configs" / "slurm-slice.yaml"
TARGETS = ("results/comparison/summary.csv", "results/comparison/comprehensive.png")
PERSONAS = tuple(f"persona_{i:03d}" for i in range(4))
# Rules that declare resources gpu=1 (gpu_resources() in rules/common.smk) and CPU-only rules.
GPU_RULES = {
    "build_demo_base",
    "train_unified",
    "train_persona",
    "train_hybrid",
    "train_prefix_persona",
    "train_cluster",
    "evaluate",
}
CPU_RULES = {
    "raw_data",
    "clean_data",
    "split_data",
    "eval_targets",
    "cluster_personas",
    "merge_neighbors",
    "route",
    "evaluate_routing",
    "routing_oracle",
    "compare",
}
LOCAL_RULES = {"adapter_manifest"}  # writes a JSON on the submit host
PER_PERSONA = ("train_persona", "train_hybrid", "train_prefix_persona", "merge_neighbors")
SLICE = yaml.safe_load(OVERLAY.read_text())
GPU_PARTITION, CPU_PARTITION = "gpu", "debug"  # profiles/slurm-ci
RUN_TIMEOUT_S = 1500  # measured 560 s alone, more next to the demo workflow (pytest -n 2); stops a hang
RERUN_TIMEOUT_S = 120


def family(rule: str) -> str:
    """A pack rule's family: train_persona.persona_000 -> train_persona."""
    return rule.split(".")[0]


def _slurm_ci_down_reason() -> str | None:
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return "Slurm client not installed (scripts/slurm-ci.sh install)"
    try:
        status = subprocess.run(
            ["bash", str(REPO / "scripts" / "slurm-ci.sh"), "status"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        part = subprocess.run(
            ["sinfo", "-h", "-p", "debug", "-o", "%a"], capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        return "Slurm does not answer"
    if status.returncode != 0:
        return "local Slurm is not running (scripts/slurm-ci.sh start)"
    if part.returncode != 0 or "up" not in part.stdout.split():
        return "partition 'debug' of scripts/slurm-ci.sh is not up"
    return None


@pytest.fixture(scope="module")
def slurm_up():
    reason = _slurm_ci_down_reason()
    if reason:
        if os.environ.get("ADAPTCOMMAND_REQUIRE_SLURM") == "1":
            pytest.fail(f"ADAPTCOMMAND_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)


def slurm_cmd(workdir: Path, limit_s: int) -> list[str]:
    profiles = [
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--profile",
        str(REPO / "profiles" / "slurm-ci"),
    ]
    run = snakemake_cmd(
        workdir,
        [REPO / "config" / "demo.yaml", OVERLAY],
        *profiles,
        "--workflow-profile",
        "none",
        "--verbose",
        *TARGETS,
        cores=None,
    )  # --verbose prints each `sbatch call:`
    return ["timeout", "-k", "10", str(limit_s), *run]


def run_env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    # Jobs inherit this environment (sbatch --export=ALL): only Slurm may set the GPU.
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("ADAPTCOMMAND_GPU_SLOTS", None)
    return env


@dataclass
class Submission:
    jobid: str
    rules: list[str]
    targets: list[str]
    sbatch: str
    log: Path


@dataclass
class SlurmRun:
    workdir: Path
    log: str
    seconds: float
    submissions: list[Submission] = field(default_factory=list)


def _after(tokens: list[str], flag: str) -> list[str]:
    """The values that follow `flag` in a tokenised command line, up to the next --option."""
    if flag not in tokens:
        return []
    out = []
    for tok in tokens[tokens.index(flag) + 1 :]:
        if tok.startswith("--"):
            break
        out.append(tok)
    return out


def _value(tokens: list[str], flag: str) -> str | None:
    """The value of `flag` (`-p gpu` or `--cpus-per-task=1`), None without the flag."""
    for i, tok in enumerate(tokens):
        if tok == flag:
            return tokens[i + 1]
        if tok.startswith(flag + "="):
            return tok[len(flag) + 1 :]
    return None


def parse_submissions(log: str) -> list[Submission]:
    """Pair each `sbatch call:` line (--verbose) with its 'submitted with SLURM jobid' line.

    Both name the Slurm log file (`--output .../%j.log` and `(log: .../<jobid>.log)`), which is
    how they are matched; the rule names come from --allowed-rules of the job's own snakemake call.
    """
    calls = {}
    for line in log.splitlines():
        if line.startswith("sbatch call: "):
            tokens = shlex.split(line[len("sbatch call: ") :])
            wrap = next(t for t in tokens if t.startswith("--wrap="))
            inner = shlex.split(wrap[len("--wrap=") :])
            calls[_after(tokens, "--output")[0]] = (line, inner)
    subs = []
    for m in re.finditer(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", log):
        jobid, path = m.groups()
        template = path[: -len(f"{jobid}.log")] + "%j.log"
        assert template in calls, f"no sbatch call for {path}"
        line, inner = calls[template]
        subs.append(
            Submission(
                jobid, _after(inner, "--allowed-rules"), _after(inner, "--target-jobs"), line, Path(path)
            )
        )
    return subs


@pytest.fixture(scope="module")
def slurm_run(slurm_up, tmp_path_factory) -> SlurmRun:
    workdir = tmp_path_factory.mktemp("slurm")
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            slurm_cmd(workdir, RUN_TIMEOUT_S),
            capture_output=True,
            text=True,
            env=run_env(),
            timeout=RUN_TIMEOUT_S + 30,
        )
        rc, log = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:  # `timeout -k` should have ended it first
        rc, log = 124, "".join(x.decode() if isinstance(x, bytes) else x or "" for x in (e.stdout, e.stderr))
    seconds = time.perf_counter() - start
    (workdir / "snakemake-run1.log").write_text(log)
    # Whatever happened, leave nothing of this run in the queue (job name = the run ID).
    run_id = re.search(r"SLURM run ID: (\S+)", log)
    if run_id:
        subprocess.run(["scancel", "--name", run_id.group(1)], capture_output=True, timeout=30)
    if rc != 0:
        pytest.fail(
            f"snakemake exited with {rc} after {seconds:.0f} s (124/137 = timeout); "
            f"log: {workdir / 'snakemake-run1.log'}\n{log[-6000:]}"
        )
    print(f"\nslurm slice: {seconds:.1f} s")
    return SlurmRun(workdir, log, seconds, parse_submissions(log))


def test_every_job_went_through_sbatch(slurm_run):
    subs = slurm_run.submissions
    rules = {family(r) for s in subs for r in s.rules}
    assert GPU_RULES | CPU_RULES <= rules, f"rules submitted: {sorted(rules)}"
    assert len({s.jobid for s in subs}) == len(subs), "a Slurm job id was reported twice"
    # the Snakemake job log agrees: every job that ran finished, none ran locally
    finished = re.findall(r"^Finished jobid: \S+ \(Rule: (\S+)\)", slurm_run.log, re.MULTILINE)
    submitted = [t.split(":")[0] for s in subs for t in s.targets]
    assert sorted(r for r in finished if family(r) not in LOCAL_RULES) == sorted(submitted), (
        finished,
        submitted,
    )
    for s in subs:  # profiles/slurm-ci keeps the Slurm logs of successful jobs
        assert s.log.is_file(), f"Slurm log of job {s.jobid} missing: {s.log}"


def test_gpu_rules_get_one_gpu_cpu_rules_none(slurm_run):
    for s in slurm_run.submissions:
        gpu = bool(GPU_RULES & {family(r) for r in s.rules})
        flags = s.sbatch.split(" --wrap=")[0]
        env_line = next(
            (x for x in s.log.read_text().splitlines() if x.startswith("environment: environ(")), ""
        )
        assert env_line, f"job {s.jobid}: no environment dump in {s.log} (jobstep --verbose)"
        cvd = re.search(r"'CUDA_VISIBLE_DEVICES': '([^']*)'", env_line)
        partition = _value(shlex.split(flags), "-p")
        if gpu:
            assert "--gpus=1" in flags.split(), f"{s.rules}: {flags}"
            assert partition == GPU_PARTITION, f"{s.rules}: {flags}"
            assert cvd and re.fullmatch(r"\d+", cvd.group(1)), f"{s.rules}: Slurm gave no GPU ({s.log})"
        else:
            assert "--gpus" not in flags and "--gres" not in flags, f"{s.rules}: {flags}"
            assert partition == CPU_PARTITION, f"{s.rules}: {flags}"
            assert cvd is None, f"{s.rules}: CPU job saw CUDA_VISIBLE_DEVICES={cvd.group(1)}"


def test_per_persona_jobs_are_one_group_submission_each(slurm_run):
    """Per rule, the 4 per-persona jobs run in ONE Slurm job, one after another: it asks for their
    summed runtime but one member's CPUs and memory (a group that ran its members at once would ask
    for 4 CPUs, more than the CI node has, and stay pending forever)."""
    res = SLICE["resources"]
    minutes = {r: res["train_runtime_min"] for r in PER_PERSONA} | {
        "merge_neighbors": res["merge_runtime_min"]
    }
    for rule in PER_PERSONA:
        groups = [s for s in slurm_run.submissions if rule in {family(r) for r in s.rules}]
        assert len(groups) == 1, (rule, [(s.jobid, s.targets) for s in groups])
        # one pack rule per persona (resources.pack_size 1), rule-level group `rule`
        assert sorted(t.split(":")[0] for t in groups[0].targets) == [f"{rule}.{p}" for p in PERSONAS]
        flags = shlex.split(groups[0].sbatch.split(" --wrap=")[0])
        assert _value(flags, "-t") == str(len(PERSONAS) * minutes[rule]), (rule, flags)
        assert _value(flags, "--cpus-per-task") == str(res["threads"]), (rule, flags)
        mem = res["model_cpu_mem_mb"] if rule == "merge_neighbors" else res["gpu_mem_mb"]
        assert _value(flags, "--mem") == str(mem), (rule, flags)
        assert ("--gpus=1" in flags) == (rule != "merge_neighbors"), (rule, flags)


def test_results_are_complete(slurm_run):
    summary = pd.read_csv(slurm_run.workdir / "results/comparison/summary.csv", index_col="method")
    methods = summary[summary["role"] == "method"]
    assert set(methods.index) == set(SLICE["eval"]["methods"])
    assert methods["n_turns"].nunique() == 1 and methods["n_personas"].eq(len(PERSONAS)).all()
    for p in PERSONAS:
        assert (slurm_run.workdir / "models/persona/seed1" / p / "train_log.json").is_file()


def test_rerun_has_nothing_to_do(slurm_run):
    start = time.perf_counter()
    proc = subprocess.run(
        slurm_cmd(slurm_run.workdir, RERUN_TIMEOUT_S),
        capture_output=True,
        text=True,
        env=run_env(),
        timeout=RERUN_TIMEOUT_S + 30,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "Nothing to be done" in log, log[-4000:]
    assert "submitted with SLURM jobid" not in log
    print(f"\nre-run: {time.perf_counter() - start:.1f} s")
