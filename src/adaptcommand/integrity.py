"""What a finished run must still hold, checked before every workflow run: the results to make again.

Snakemake re-makes a missing file only when a job that reads it has to run (its rule for temporary
files), and it cannot see inside an adapter directory: a deleted adapter, manifest or evaluation of a
finished run, or weights truncated or replaced, would stay so. `to_remake` lists them, each with the
reason, for the workflow to hand to Snakemake's own ``--forcerun`` (rules/common.smk): the jobs that
made them run again, and so do those that read them.

- every manifest that exists must be valid JSON, and each of its units' weights the recorded ones
  (the sizes and modification times recorded decide without reading weights; where they differ, the
  digest: `manifests.unit_problem`), unless the unit's job wrote it again after the manifest (a newer
  result: Snakemake re-makes the manifest by itself);
- once the run has its comparison, every manifest and evaluation file it was made from must exist
  (and a JSON one parse);
- where a manifest is missing or broken, each adapter beside it must hold the weights its job
  recorded in its train_log.json (a manifest is never made again from damaged weights).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path

from adaptcommand.layout import comparison
from adaptcommand.manifests import unit_problem

__all__ = ["Remake", "to_remake"]


def _json_problem(path: Path) -> str | None:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return f"is not valid JSON ({type(exc).__name__})"
    return None


def _remade_since(adapter_dir: Path, manifest: Path) -> bool:
    """Its job wrote `adapter_dir` again after `manifest` was made (Snakemake stamps a directory output
    when its job ends): a newer result, not a damaged one. Snakemake re-makes the manifest from it by
    itself (a run cut off between the two jobs must not train it a third time)."""
    stamp = adapter_dir / ".snakemake_timestamp"
    return stamp.exists() and stamp.stat().st_mtime_ns > manifest.stat().st_mtime_ns


def _against_training_logs(method_dir: Path, workdir: Path) -> dict[str, str]:
    """{adapter directory: what is wrong} of the adapters in `method_dir` whose weights are not the
    ones their job recorded in train_log.json (adapters.save_adapter)."""
    found = {}
    for log in sorted(method_dir.glob("*/train_log.json")):
        try:
            recorded = json.loads(log.read_text()).get("weights_digest")
        except (OSError, ValueError):
            recorded = "unreadable"
        unit = {"dir": str(log.parent), "digest": recorded}
        problem = unit_problem(unit, record="training log") if recorded else None
        if problem:
            found[str(log.parent.relative_to(workdir))] = problem
    return found


def to_remake(
    manifests: Iterable[str | os.PathLike],
    results: Iterable[str | os.PathLike],
    finished: bool,
    workdir: str | os.PathLike = ".",
) -> dict[str, str]:
    """{path: what is wrong} of the results of the run at `workdir` to make again. `manifests`: every
    manifest the run's config makes; `results`: the evaluation files its comparison reads; `finished`:
    whether that comparison exists (before that, a missing file is one the run has yet to make)."""
    workdir = Path(workdir)
    found: dict[str, str] = {}
    for path in map(str, manifests):
        full = workdir / path
        problem = "is missing" if not full.exists() else _json_problem(full)
        if problem and (finished or full.exists()):
            found[path] = problem
            # no record to check its adapters against: each against its own training log's digest
            found.update(_against_training_logs(full.parent, workdir))
        if problem:
            continue
        for unit in json.loads(full.read_text())["units"].values():
            problem = unit_problem({**unit, "dir": str(workdir / unit["dir"])}, quick=True)
            if problem and not _remade_since(workdir / unit["dir"], full):
                found[unit["dir"]] = problem
    for path in map(str, results if finished else ()):
        full = workdir / path
        if not full.exists():
            found[path] = "is missing"
        elif full.suffix == ".json":
            problem = _json_problem(full)
            if problem:
                found[path] = problem
    return found


class Remake:
    """The results of a workflow's run to make again (`to_remake` of what its `experiment`
    stores, `Experiment.stored`), handed to the DAG Snakemake is building as forced files, what
    --forcerun does: the jobs that made them run again, and those that read them. Snakemake's DAG
    settings are set only after the Snakefile is read, so this happens in the input functions of the
    rules that read stored results (`around`), which run while the DAG is built, before it decides
    what must run. Each damaged result is named once, in a warning."""

    def __init__(self, workflow, experiment) -> None:
        self.workflow, self.experiment = workflow, experiment

    @functools.cached_property
    def found(self) -> dict[str, str]:
        from snakemake.logging import logger

        finished = os.path.exists(comparison("summary.csv"))
        found = to_remake(*self.experiment.stored(), finished=finished)
        for path, problem in found.items():
            logger.warning(f"{path} {problem}: made again, with what reads it")
        return found

    def around(self, inputs):
        """Input function `inputs`, forcing the damaged results first (in the main process only)."""

        def checked(wildcards):
            if self.workflow.is_main_process:
                self.workflow.dag.forcefiles.update(self.found)
            return inputs(wildcards)

        return checked
