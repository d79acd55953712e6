"""A two-thread model job beside another one on 2 cores: OpenMP's waiting policy.

The question: the demo base is built with 2 torch threads (`model.demo.threads`), alone on the
machine in a plain demo run. In the test suite the same job shares the 2 cores with the other xdist
worker's jobs, and there its benchmark file showed 577 s wall / 491 CPU s against 90 s / 144 CPU s
alone. libgomp (torch's OpenMP on Linux) spins at every barrier before it sleeps; a thread that spins
while its partner waits for a core burns the core that partner needs. OMP_WAIT_POLICY=PASSIVE makes
the waiting threads sleep at once.

What the script does: builds the demo base (its pretraining cut to `--epochs`, into temporary
directories) with `--threads` torch threads, (1) alone and (2) two builds at once, each with the
default policy and with OMP_WAIT_POLICY=PASSIVE. Every build is a process of its own; its wall time is
measured from start to exit and its CPU time from the kernel (os.wait4). Prints a table and, with
`--out`, writes it as TSV.

    python benchmarks/thread_contention.py --epochs 1 --out benchmarks/results/thread_contention.tsv
    farm-bench -n 5 --timeout 900 -- python benchmarks/thread_contention.py --case PASSIVE:1 \\
        --vs 'python benchmarks/thread_contention.py --case default:1'
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BUILD = """
import sys, torch
torch.set_num_threads(int(sys.argv[3]))
from adaptcommand.config_checks import load_config
from adaptcommand.demo.base import build_demo_base
from adaptcommand.prompts import PromptConfig
config = load_config(sys.argv[4] + "/config/config.yaml", sys.argv[4] + "/config/demo.yaml")
demo = {**config["model"]["demo"], "epochs": int(sys.argv[2])}
build_demo_base(sys.argv[1], PromptConfig.from_section(config["prompt"], "prompt"), demo, seed=demo["seed"])
"""


def run_builds(n: int, epochs: int, threads: int, policy: str) -> list[tuple[float, float]]:
    """Start `n` builds at once; (wall s, CPU s) of each."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO / "src"))
    if policy != "default":
        env["OMP_WAIT_POLICY"] = policy
    with tempfile.TemporaryDirectory() as tmp:
        started, procs = time.monotonic(), {}
        for i in range(n):
            cmd = [sys.executable, "-c", BUILD, f"{tmp}/base{i}", str(epochs), str(threads), str(REPO)]
            procs[subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL).pid] = None
        while None in procs.values():
            pid, status, usage = os.wait4(-1, 0)
            if pid in procs:
                if status != 0:
                    raise SystemExit(f"a build failed (status {status})")
                procs[pid] = (time.monotonic() - started, usage.ru_utime + usage.ru_stime)
    return list(procs.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=1, help="pretraining epochs of each build")
    ap.add_argument("--threads", type=int, default=2, help="torch threads of each build")
    ap.add_argument("--out", help="write the table as TSV here")
    ap.add_argument(
        "--case", help="one case only, POLICY:N (e.g. PASSIVE:1): for timing from outside (farm-bench)"
    )
    args = ap.parse_args(argv)
    rows = []
    cases = [(p, n) for p in ("default", "PASSIVE") for n in (1, 2)]
    if args.case:
        policy, n = args.case.split(":")
        cases = [(policy, int(n))]
    for policy, n in cases:
        for wall, cpu in run_builds(n, args.epochs, args.threads, policy):
            rows.append((policy, "alone" if n == 1 else "two at once", wall, cpu))
            print(f"{policy:8s} {rows[-1][1]:12s} wall {wall:7.1f} s  CPU {cpu:7.1f} s", flush=True)
    if args.out:
        lines = ["policy\tsetting\twall_s\tcpu_s"] + [f"{p}\t{s}\t{w:.1f}\t{c:.1f}" for p, s, w, c in rows]
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
