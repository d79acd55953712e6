"""Local GPU slot allocator (adaptcommand.gpuslots): fake GPUs via ADAPTCOMMAND_GPU_SLOTS."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import pytest

from adaptcommand.gpuslots import GpuSlotTimeout, detect_slots, gpu_slot

# One "GPU job": say it is ready, wait for the start signal (so all jobs compete at once), take
# a slot, hold it for HOLD_S seconds, record (slot, CUDA_VISIBLE_DEVICES seen, start, end).
JOB = """
import json, os, sys, time
from pathlib import Path
from adaptcommand.gpuslots import gpu_slot

out, lock_dir, go, hold = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
out.with_suffix(".ready").touch()
deadline = time.monotonic() + 10
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
with gpu_slot(lock_dir=lock_dir, timeout=10) as slot:
    start = time.monotonic()
    seen = os.environ.get("CUDA_VISIBLE_DEVICES")
    time.sleep(hold)
    end = time.monotonic()
after = os.environ.get("CUDA_VISIBLE_DEVICES")
out.write_text(json.dumps({"slot": slot, "seen": seen, "after": after, "start": start, "end": end}))
"""
N_JOBS = 6
HOLD_S = 0.3


@pytest.fixture
def clean_env(monkeypatch):
    """No GPU pre-assigned, not inside Slurm, no slot override."""
    for var in (
        "CUDA_VISIBLE_DEVICES",
        "SLURM_JOB_ID",
        "ADAPTCOMMAND_GPU_SLOTS",
        "ADAPTCOMMAND_GPU_LOCK_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_concurrent_jobs_never_share_a_slot(tmp_path, clean_env):
    env = dict(os.environ, ADAPTCOMMAND_GPU_SLOTS="2")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    go = tmp_path / "go"
    lock_dir = tmp_path / "locks"
    outs = [tmp_path / f"job{i}.json" for i in range(N_JOBS)]
    procs = [
        subprocess.Popen([sys.executable, "-c", JOB, str(o), str(lock_dir), str(go), str(HOLD_S)], env=env)
        for o in outs
    ]
    deadline = time.monotonic() + 10  # let the interpreters start, then release them all at once
    while not all(o.with_suffix(".ready").exists() for o in outs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    for p in procs:
        assert p.wait(timeout=20) == 0

    rec = [json.loads(o.read_text()) for o in outs]
    assert {r["slot"] for r in rec} == {"0", "1"}  # both fake GPUs were used
    for r in rec:
        assert r["seen"] == r["slot"]  # the job saw its slot as CUDA_VISIBLE_DEVICES
        assert r["after"] is None  # and it was unset again after the block
    for a, b in combinations(rec, 2):  # CLOCK_MONOTONIC is system-wide on Linux
        if a["slot"] == b["slot"]:
            assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)
    # at most 2 at a time: 6 jobs x 0.3 s need >= 3 rounds
    span = max(r["end"] for r in rec) - min(r["start"] for r in rec)
    assert span >= (N_JOBS / 2) * HOLD_S - 0.05
    assert sorted(p.name for p in lock_dir.iterdir()) == ["gpu0.lock", "gpu1.lock"]


@pytest.mark.parametrize("preset", ["3", "0,1", ""])
def test_respects_preset_cuda_visible_devices(tmp_path, clean_env, preset):
    clean_env.setenv("CUDA_VISIBLE_DEVICES", preset)
    clean_env.setenv("ADAPTCOMMAND_GPU_SLOTS", "2")
    with gpu_slot(lock_dir=tmp_path / "locks") as slot:
        assert slot == preset
        assert os.environ["CUDA_VISIBLE_DEVICES"] == preset
    assert os.environ["CUDA_VISIBLE_DEVICES"] == preset
    assert not (tmp_path / "locks").exists()  # no lock taken


def test_releases_lock_and_env_on_exception(tmp_path, clean_env):
    lock_dir = tmp_path / "locks"
    with pytest.raises(RuntimeError, match="boom"):
        with gpu_slot(n_slots=1, lock_dir=lock_dir) as slot:
            assert slot == "0" and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
            raise RuntimeError("boom")
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    # the flock is free again: a new open file description can take it without blocking
    fd = os.open(lock_dir / "gpu0.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    with gpu_slot(n_slots=1, lock_dir=lock_dir, timeout=0) as slot:
        assert slot == "0"


def test_takes_the_free_slot_and_times_out_when_none(tmp_path, clean_env):
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir()
    fd = os.open(lock_dir / "gpu0.lock", os.O_RDWR | os.O_CREAT)  # another job holds GPU 0
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with gpu_slot(n_slots=2, lock_dir=lock_dir) as slot:
            assert slot == "1"
        t0 = time.monotonic()
        with pytest.raises(GpuSlotTimeout, match="no free GPU slot among 1"):
            with gpu_slot(n_slots=1, lock_dir=lock_dir, timeout=0.2):
                pass
        assert 0.2 <= time.monotonic() - t0 < 2
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    finally:
        os.close(fd)


def test_default_lock_dir_from_env(tmp_path, clean_env):
    clean_env.setenv("ADAPTCOMMAND_GPU_LOCK_DIR", str(tmp_path / "envlocks"))
    with gpu_slot(n_slots=1):
        assert (tmp_path / "envlocks" / "gpu0.lock").exists()


def test_no_slots_means_cpu(tmp_path, clean_env):
    clean_env.setenv("ADAPTCOMMAND_GPU_SLOTS", "0")
    with gpu_slot(lock_dir=tmp_path / "locks") as slot:
        assert slot is None
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    with gpu_slot(n_slots=0, lock_dir=tmp_path / "locks") as slot:
        assert slot is None
    assert not (tmp_path / "locks").exists()


def test_slurm_job_without_gpu_gets_no_slot(clean_env):
    clean_env.setenv("SLURM_JOB_ID", "42")  # a Slurm job that was given no GPU
    assert detect_slots() == 0
    clean_env.setenv("ADAPTCOMMAND_GPU_SLOTS", "2")  # an explicit setting still wins
    assert detect_slots() == 2


def test_bad_slot_count(clean_env):
    clean_env.setenv("ADAPTCOMMAND_GPU_SLOTS", "two")
    with pytest.raises(ValueError, match="ADAPTCOMMAND_GPU_SLOTS"):
        detect_slots()
