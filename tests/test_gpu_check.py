"""benchmarks/gpu_check.sh: its argument checking, and its --dry mode on CPU (toy sizes, the same three
parts and the same report as on a GPU; it measures nothing)."""

from __future__ import annotations

import json
import subprocess

from helpers import REPO

SCRIPT = REPO / "benchmarks" / "gpu_check.sh"


def check(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def test_arguments_are_checked(tmp_path):
    usage = check("--help")
    assert usage.returncode == 0 and "--dry" in usage.stdout and "H100" in usage.stdout
    for args, message in (
        (["--bogus"], "unknown argument '--bogus'"),
        (["--out"], "--out needs a directory"),
        (["--base", str(tmp_path)], "--base is for --dry"),
        (["--dry", "--base", str(tmp_path)], "is not a model directory"),
    ):
        proc = check(*args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    proc = check("--dry", "--out", str(tmp_path / "used"))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    # without a GPU the real check refuses at once and says what to do
    proc = check("--out", str(tmp_path / "gpu"))
    assert proc.returncode == 3 and "use --dry" in proc.stderr


def test_dry_mode_runs_every_part_on_cpu(tiny, tmp_path):
    out = tmp_path / "check"
    proc = check("--dry", "--out", str(out), "--base", tiny[0], timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    status = (out / "status.tsv").read_text().splitlines()[1:]
    assert [line.split("\t")[:2] for line in status] == [
        ["smollm2_comparison", "0"],
        ["smollm2_curve", "0"],
        ["generation_speed", "0"],
        ["train_packing", "0"],
    ]
    assert "convert_gguf_base" in (out / "smollm2_comparison.log").read_text()  # the full plan
    assert "budget_splits" in (out / "smollm2_curve.log").read_text()  # the curve's plan
    packing = json.loads((out / "train_packing.json").read_text())
    assert packing["personas"] == 3 and packing["sample"] == 2 and packing["batch_group"] == 2
    assert packing["same_best_epochs"] and max(packing["max_abs_diff_vs_a"].values()) < 1e-3
    generation = json.loads((out / "generation_speed.json").read_text())
    assert all(r["identical"] == r["examples"] for r in generation["results"])
    summary = (out / "summary.md").read_text()
    assert "## (a) train_packing.py" in summary and "dry (CPU" in summary
