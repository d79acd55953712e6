"""A hard crash (Snakemake and its training job killed with SIGKILL) and the README's recovery command.

The slice of tests/configs/slurm-slice.yaml (tiny model) is run locally towards models/unified and
killed while the training script runs. The plain re-run then fails ("Directory cannot be locked":
Snakemake's lock outlives a killed process); the README's command (`--unlock`, then the same command
again; rerun-incomplete is in the profile) finishes the run, and no half-written adapter is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import psutil
from helpers import REPO, snakemake_cmd

TARGET = "models/unified"


def _training_children(root: int) -> list[psutil.Process]:
    try:
        kids = psutil.Process(root).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for p in kids:
        try:
            if any("train_lora.py" in part for part in p.cmdline()):
                found.append(p)
        except psutil.NoSuchProcess:
            pass
    return found


def test_kill_9_then_the_documented_recovery_finishes_the_run(tmp_path):
    work = tmp_path / "work"
    configs = [REPO / "config" / "demo.yaml", REPO / "tests" / "configs" / "slurm-slice.yaml"]
    cmd = snakemake_cmd(work, configs, TARGET)
    log = (tmp_path / "run1.log").open("w")
    run = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while not _training_children(run.pid):
        assert run.poll() is None, (
            f"the run ended before training started: {(tmp_path / 'run1.log').read_text()[-3000:]}"
        )
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.2)
    time.sleep(1.0)  # inside the training job
    training = _training_children(run.pid)
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
    assert (work / TARGET / "adapter_model.safetensors").is_file()
    assert json.loads((work / TARGET / "train_log.json").read_text())["best_epoch"] >= 1
    leftovers = [p for p in (work / "models").rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers
