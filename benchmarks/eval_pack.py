"""Evaluation packs (resources.eval_pack_size) on the demo: how much of an evaluation is start-up.

The question: a demo evaluation job of one method spends ~4 s generating and ~3 s embedding with
MiniLM, and about as long again starting (Snakemake's script preamble, importing torch, transformers,
peft and sentence-transformers, loading the base and MiniLM). A pack evaluates several methods of one
split and seed in one process, so it starts once. Packs also run fewer jobs side by side.

What the script does: copies a FINISHED demo run (`--run`, e.g. the directory of
`snakemake --cores 2 --configfile config/demo.yaml`) once per pack size, deletes every generated
evaluation of `--seed` there (results/eval/<split>/<method>/seed<s>/, routing's composed one apart),
and makes them again with `snakemake --cores 2` and that pack size. For each size it reports the wall
time of the whole Snakemake run, the jobs, and the wall and CPU seconds summed over their benchmark
files; and checks that every prediction file is byte-identical to the finished run's.

    python benchmarks/eval_pack.py --run /tmp/demo --sizes 1 5 0 --out benchmarks/results/eval_pack.tsv
"""

from __future__ import annotations

import argparse
import glob
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def generated(run: Path, seed: int) -> list[Path]:
    """The evaluation directories of `seed` made by generation (not routing's composition)."""
    dirs = sorted(run.glob(f"results/eval/*/*/seed{seed}"))
    return [d for d in dirs if d.parent.name != "routing"]


def one_size(run: Path, seed: int, size: int, work: Path) -> dict:
    copy = work / f"size{size}"
    subprocess.run(["cp", "-a", str(run), str(copy)], check=True)
    dirs = generated(copy, seed)
    reference = {d: (d / "predictions.jsonl").read_bytes() for d in dirs}
    for d in dirs:
        shutil.rmtree(d)
    overlay = copy / "eval_pack_size.yaml"
    overlay.write_text(yaml.safe_dump({"resources": {"eval_pack_size": size}}))
    targets = [str((d / "metrics.json").relative_to(copy)) for d in dirs]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(copy)]
    cmd += ["--configfile", str(REPO / "config/demo.yaml"), str(overlay), "--cores", "2", *targets]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    files = [
        f
        for pattern in ("evaluate", "evaluate_pack")
        for f in glob.glob(str(copy / f"results/benchmarks/{pattern}/**/*.tsv"), recursive=True)
        if Path(f).stat().st_mtime >= time.time() - wall - 1
    ]
    bench = pd.concat([pd.read_csv(f, sep="\t") for f in files])
    same = all((d / "predictions.jsonl").read_bytes() == b for d, b in reference.items())
    return {
        "eval_pack_size": size,
        "methods": len(dirs),
        "jobs": len(files),
        "run_wall_s": round(wall, 1),
        "jobs_wall_s": round(float(bench["s"].sum()), 1),
        "jobs_cpu_s": round(float(bench["cpu_time"].sum()), 1),
        "predictions_identical": same,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a finished demo run directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 0])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if not (args.run / "results/comparison/summary.csv").exists():
        raise SystemExit(f"{args.run}: not a finished demo run (no results/comparison/summary.csv)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [one_size(args.run, args.seed, size, Path(tmp)) for size in args.sizes]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.out:
        table.to_csv(args.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
