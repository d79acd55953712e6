"""The figures of a benchmarks/gpu_check.sh folder as one Markdown page (printed to stdout).

    python benchmarks/gpu_check_report.py results/gpu_check/<run> > summary.md

Reads what the parts left: status.tsv (exit code and seconds per part), device.txt, the JSON of
train_packing.py and generation_speed.py, and from the SmolLM2 run (smollm2-run/) the wall time of
every job per rule (results/benchmarks/), controls.json and the ranked summary. A part that failed or
left nothing says so.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def rule_times(run: Path) -> list[tuple[str, int, float, float]]:
    """(rule, jobs, summed wall s, longest job s) from results/benchmarks/<rule>[/...].tsv, longest first."""
    jobs: dict[str, list[float]] = defaultdict(list)
    root = run / "results" / "benchmarks"
    for f in sorted(root.rglob("*.tsv")) if root.is_dir() else []:
        rule = f.relative_to(root).parts[0].removesuffix(".tsv")
        with f.open() as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            jobs[rule].append(float(rows[-1]["s"]))
    out = [(r, len(s), sum(s), max(s)) for r, s in jobs.items()]
    return sorted(out, key=lambda t: -t[2])


def report(folder: Path, seconds: int | None = None) -> str:
    lines = [f"# GPU check: {folder.name}", ""]
    device = folder / "device.txt"
    if device.is_file():
        lines += ["```", device.read_text().strip(), "```", ""]
    status = folder / "status.tsv"
    if status.is_file():
        lines += ["| part | exit | seconds |", "|---|---:|---:|"]
        with status.open() as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                lines.append(f"| {row['part']} | {row['exit']} | {row['seconds']} |")
        lines.append("")
    if seconds is not None:
        lines += [f"Total: {seconds} s.", ""]

    lines += ["## (c) SmolLM2 comparison (config/smollm2.yaml)", ""]
    run = folder / "smollm2-run"
    times = rule_times(run)
    if times:
        lines += ["| rule | jobs | wall s (sum) | longest job s |", "|---|---:|---:|---:|"]
        lines += [f"| {r} | {n} | {total:.1f} | {longest:.1f} |" for r, n, total, longest in times]
        lines.append("")
    else:
        lines += ["(no job finished)", ""]
    conversion = _json(run / "models" / "smollm2-135m-instruct" / "conversion.json")
    if conversion:
        check = conversion["check"]
        diff = check["max_abs_logit_difference"]
        lines += [f"Conversion: max logit difference {diff:.3g} (atol {check['atol']})."]
    controls = _json(run / "results" / "comparison" / "controls.json")
    if controls:
        lines.append(f"Controls passed: {controls['passed']}.")
        for c in controls["checks"]:
            lines.append(
                f"- {c['kind']} `{c['name']}`: low {c['low']:.3f}, must be {c['must']}: {c['passed']}"
            )
    summary = run / "results" / "comparison" / "summary.md"
    if summary.is_file():
        table = [line for line in summary.read_text().splitlines() if line.startswith("|")]
        lines += ["", *table]
    lines.append("")

    lines += ["## (d) SmolLM2 learning curve (config/curve.yaml on (c)'s run)", ""]
    curve = folder / "smollm2-curve" / "results" / "comparison"
    if (curve / "learning_curve.csv").is_file():
        budgets = [t for t in rule_times(folder / "smollm2-curve") if t[0].startswith(("train_", "evaluate"))]
        lines += [(curve / "summary.md").read_text().splitlines()[0], "", "```"]
        lines += [(curve / "learning_curve.csv").read_text().strip(), "```", ""]
        lines += [f"- {r}: {n} jobs, {total:.1f} s (with (c)'s)" for r, n, total, _ in budgets]
    else:
        lines.append("(no curve)")
    lines.append("")

    lines += ["## (b) generation_speed.py", ""]
    gen = _json(folder / "generation_speed.json")
    if gen:
        lines += [
            "| variant | mode | examples | seconds | speed-up | identical |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in gen.get("results", []):
            lines.append(
                f"| {r['variant']} | {r['mode']} | {r['examples']} | {r['seconds']:.2f} | "
                f"{r['speedup']:.1f}x | {r['identical']}/{r['examples']} |"
            )
    else:
        lines.append("(no result)")
    lines += ["", "## (a) train_packing.py", ""]
    pack = _json(folder / "train_packing.json")
    if pack:
        n = pack["personas"]
        lines.append(
            f"{n} personas ({pack.get('sample', n)} for the unbatched variants, projected), batched "
            f"{pack.get('batch_group', n)} at a time, {pack['device']}, geometry {pack['geometry']}."
        )
        lines += ["", "| variant | seconds (all personas) | measured s | speed-up | max abs diff vs (a) |"]
        lines.append("|---|---:|---:|---:|---:|")
        for k, v in pack["seconds"].items():
            diff = pack["max_abs_diff_vs_a"].get(k)
            lines.append(
                f"| {k} | {v:.1f} | {pack.get('measured_seconds', {}).get(k, v):.1f} | "
                f"{pack['speedup'].get(k, 1.0):.2f}x | {'' if diff is None else f'{diff:.2e}'} |"
            )
        lines.append(f"\nSame best epochs: {pack['same_best_epochs']}.")
    else:
        lines.append("(no result)")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--seconds", type=int, help="the whole check's wall time")
    args = ap.parse_args(argv)
    print(report(args.folder, args.seconds), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
