"""Helpers shared by the workflow tests (tests/ is on sys.path under pytest's default import mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def effective_config(*overlays) -> dict:
    """config/config.yaml with the overlays merged on top, as `snakemake --configfile <overlays>`."""
    from adaptcommand.config_checks import load_config

    return load_config(REPO / "config" / "config.yaml", *overlays)


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run into {rule: count}; the pack rules of a family
    ("train_persona.persona_000-persona_011", ...) count as their family ("train_persona")."""
    counts, in_table = {}, False
    for line in proc.stdout.splitlines() + proc.stderr.splitlines():
        if line.startswith("job ") and "count" in line:  # (a dry run prints the table twice)
            counts, in_table = {}, True
            continue
        if in_table:
            parts = line.split()
            if not parts or parts[0] == "total":
                in_table = False
                continue
            if len(parts) == 2 and parts[1].isdigit():
                family = parts[0].split(".")[0]
                counts[family] = counts.get(family, 0) + int(parts[1])
    return counts


def planned_outputs(proc: subprocess.CompletedProcess) -> dict[str, list[str]]:
    """{job rule: its outputs} of every job block of a dry run's output."""
    jobs, rule = {}, None
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip().startswith(("rule ", "localrule ", "checkpoint ")) and line.endswith(":"):
            rule = line.split()[-1].rstrip(":")  # (indented inside a "group job" block)
        elif rule and line.strip().startswith("output: "):
            jobs.setdefault(rule, []).extend(line.strip()[len("output: ") :].split(", "))
            rule = None
    return jobs


def snakemake_cmd(workdir: Path, configfiles, *args: str, cores: int | None = 2) -> list[str]:
    """The repository's workflow run in `workdir` with the given config files (later ones win)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, configfiles),
    ]
    return cmd + (["--cores", str(cores)] if cores else []) + list(args)


def dialog_record(pid: str, sid: int, messages: list[dict], character: str) -> dict:
    """A cleaned-dialogue record (the format of data/cleaned/dialogs_clean.jsonl) for unit tests."""
    meta = {
        "time_of_day": "evening",
        "day_of_week": "weekday",
        "sun_phase": "after_sunset",
        "weather": "rainy",
        "outdoor_temp": "cold",
    }
    return {
        "persona_id": pid,
        "session_id": sid,
        "character": character,
        "routines": [],
        "meta": meta,
        "messages": messages,
        "applied_routines": None,
    }


def run_workflow(workdir: Path, configfiles, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """The workflow in `workdir` with `configfiles`, offline, without the workflow profile."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = snakemake_cmd(workdir, configfiles, "--workflow-profile", "none", *args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def finished_run(tmp_path_factory, name: str, configfiles) -> Path:
    """A new directory where the workflow ran to the end with `configfiles` (a module's fixture)."""
    workdir = tmp_path_factory.mktemp(name)
    proc = run_workflow(workdir, configfiles)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return workdir
