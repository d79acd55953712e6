"""A hard crash and the README's recovery command, on the slice of tests/configs/slurm-slice.yaml.

- kill -9 of Snakemake alone: its job (the demo base's pretraining, made long) stops within seconds
  instead of writing its output as an orphan, whether it was still importing or already working.
- Snakemake and its training job killed with SIGKILL on the way to models/unified: the plain re-run
  fails ("Directory cannot be locked": Snakemake's lock outlives a killed process); the README's
  command (`--unlock`, then the same command again; rerun-incomplete is in the profile) finishes the
  run, and no half-written adapter is left.
- That finished run copied with plain `cp -r` (every file gets the time of the copy, in the order cp
  walks the tree) plans nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

import psutil
import pytest
from helpers import REPO, snakemake_cmd

TARGET = "models/unified/all"
CONFIGS = [REPO / "config" / "demo.yaml", REPO / "tests" / "configs" / "slurm-slice.yaml"]


def _job_processes(root: int, script: str) -> list[psutil.Process]:
    try:
        kids = psutil.Process(root).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for p in kids:
        try:
            if any(script in part for part in p.cmdline()):
                found.append(p)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.mark.parametrize("moment", ["importing", "working"])
def test_kill_9_of_snakemake_stops_its_job(tmp_path, moment):
    """Snakemake alone killed with SIGKILL (its job is re-parented, not killed): no process of the
    job is alive seconds later and its output never appears. `importing`: killed as soon as the job
    process exists (it learns of it when it enters rule_context); `working`: inside the job."""
    long_build = tmp_path / "long.yaml"
    long_build.write_text("model:\n  demo:\n    epochs: 500\n")  # minutes of pretraining
    work = tmp_path / "work"
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        snakemake_cmd(work, [*CONFIGS, long_build], "models/base"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    job_log = work / "logs" / "build_demo_base.log"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert run.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the job never started"
            job = _job_processes(run.pid, "build_demo_base.py")
            if job and (moment == "importing" or "rule build_demo_base" in _text(job_log)):
                break
            time.sleep(0.05)
        os.kill(run.pid, signal.SIGKILL)  # Snakemake only
        run.wait(timeout=30)
        # Working: stopped at once (the kernel's parent-death signal). Importing: when its imports are
        # done and it enters rule_context, before it writes anything (seconds, more under load).
        _, alive = psutil.wait_procs(job, timeout=5 if moment == "working" else 60)
        assert not [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], (
            "the job outlived Snakemake"
        )
        time.sleep(2)
        assert not (work / "models" / "base").exists(), "the orphaned job wrote its output"
        assert not (work / "models" / "base.tmp").exists(), "the stopped job left its temporary output"
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the session: nothing if it works
            os.killpg(run.pid, signal.SIGKILL)


def _text(path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


@pytest.fixture(scope="module")
def recovered_run(tmp_path_factory):
    """The slice killed (Snakemake and its jobs) during training, then recovered as the README says:
    (the run directory, the command)."""
    tmp_path = tmp_path_factory.mktemp("crash")
    work = tmp_path / "work"
    cmd = snakemake_cmd(work, CONFIGS, TARGET)
    log = (tmp_path / "run1.log").open("w")
    run = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while not _job_processes(run.pid, "train_lora.py"):
        assert run.poll() is None, (
            f"the run ended before training started: {(tmp_path / 'run1.log').read_text()[-3000:]}"
        )
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.2)
    time.sleep(1.0)  # inside the training job
    training = _job_processes(run.pid, "train_lora.py")
    os.killpg(run.pid, signal.SIGKILL)  # Snakemake and every child: no clean-up runs
    run.wait(timeout=30)
    _, alive = psutil.wait_procs(training, timeout=30)  # SIGKILL is delivered, not instant, under load
    for p in alive:
        assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    assert not (work / TARGET / "adapter_model.safetensors").exists(), "killed too late to test recovery"

    plain = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert plain.returncode != 0 and "cannot be locked" in plain.stdout + plain.stderr, plain.stderr[-2000:]

    # README, "After a crash": --unlock, then the same command.
    unlock = subprocess.run(cmd + ["--unlock"], capture_output=True, text=True, timeout=300)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    return work, cmd


def test_kill_9_then_the_documented_recovery_finishes_the_run(recovered_run):
    work, _ = recovered_run
    assert (work / TARGET / "adapter_model.safetensors").is_file()
    assert json.loads((work / TARGET / "train_log.json").read_text())["best_epoch"] >= 1
    leftovers = [p for p in (work / "models").rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers


def test_a_plain_copy_of_a_finished_run_plans_nothing(recovered_run, tmp_path):
    """`cp -r` (mtimes not kept): whatever order cp walks the tree in, an input may now look newer than
    what was made from it; directories (models/base) included, Snakemake compares content instead."""
    work, _ = recovered_run
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(work), str(copy)], check=True)
    # Copied again, the inputs are certainly newer than what depends on them (as when cp reaches them last).
    subprocess.run(["cp", "-r", str(work / "data"), str(copy)], check=True)
    subprocess.run(["cp", "-r", str(work / "models" / "base"), str(copy / "models")], check=True)
    proc = subprocess.run(
        snakemake_cmd(copy, CONFIGS, TARGET, "--dry-run"), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
