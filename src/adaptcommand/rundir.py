"""A run directory remembers what made it: ``results/run.json`` (layout.RUN_RECORD).

The record holds the run's *setup*, what no config change may swap under finished results without
throwing them away: where the data come from (source, dataset or directory, the synthetic seed), how
many personas and sessions, and the base model. Snakemake re-runs a job whose params changed, and it
deletes the job's outputs first: one forgotten ``--configfile`` in a finished demo directory would
delete its data before the Hub download fails. So the workflow refuses, before any job, a setup other
than the recorded one (`check_setup`), and writes the record when it starts jobs (`record`). The
record also says how to re-run the directory's workflow (`remake_command`): the advice of every error
about a damaged or missing result.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from adaptcommand.layout import RAW, RUN_RECORD

__all__ = ["RunSetupError", "check_setup", "check_source", "record", "remake_command", "setup_of"]


class RunSetupError(ValueError):
    """A command asks a run directory for another setup than the one that made it."""


def setup_of(config: dict) -> dict:
    """The setup of a run (what its data and base model are), from its validated config."""
    data, model = config["data"], config["model"]
    where = {
        "huggingface": ("hf_dataset", data.get("hf_dataset")),
        "local": ("local_dir", data.get("local_dir")),
        "synthetic": ("synthetic_seed", data.get("synthetic_seed")),
    }[data["source"]]
    return {
        "source": data["source"],
        where[0]: where[1],
        "n_personas": data["n_personas"],
        "sessions_per_persona": data["sessions_per_persona"],
        "base": model["base"],
    }


def _read(workdir: str | os.PathLike) -> dict | None:
    path = Path(workdir) / RUN_RECORD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _shown(path: str, workdir: Path) -> str:
    """`path` relative to the run directory where it lies inside it, else as it is."""
    try:
        return str(Path(path).resolve().relative_to(workdir.resolve()))
    except ValueError:
        return str(path)


def remake_command(workdir: str | os.PathLike = ".") -> str:
    """The command that (re-)runs the workflow of the run at `workdir`, as recorded; a generic one
    where the directory has no record."""
    workdir = Path(workdir)
    doc = _read(workdir)
    if not doc:
        return "snakemake --cores N (with this run's --configfile, in its directory)"
    words = ["snakemake", "--cores", "N"]
    snakefile = Path(doc["snakefile"])
    if snakefile.parent.resolve() != workdir.resolve():
        words += ["-s", str(snakefile), "--directory", str(workdir.resolve())]
    for path in doc["configfiles"]:
        words += ["--configfile", _shown(path, workdir)]
    return shlex.join(words)


def _differences(recorded: dict, wanted: dict) -> list[str]:
    keys = list(dict.fromkeys([*recorded, *wanted]))
    return [f"{k} {recorded.get(k)!r} -> {wanted.get(k)!r}" for k in keys if recorded.get(k) != wanted.get(k)]


def check_setup(config: dict, workdir: str | os.PathLike = ".") -> None:
    """Refuse (one line) a config whose setup differs from the one recorded in `workdir`; nothing to
    check in a directory without a record (a new run)."""
    doc = _read(workdir)
    if not doc:
        return
    changed = _differences(doc["setup"], setup_of(config))
    if changed:
        raise RunSetupError(
            f"{Path(workdir) / RUN_RECORD}: this directory holds a run of another setup "
            f"({'; '.join(changed)}); its own command is `{remake_command(workdir)}`. Nothing was "
            "changed: for another setup run in a new directory (snakemake --directory NEW_DIR ...)"
        )


def record(config: dict, configfiles, snakefile: str | os.PathLike, workdir: str | os.PathLike = ".") -> Path:
    """Write (atomically) what made the run at `workdir`: its setup, Snakefile and config files."""
    from adaptcommand.data.io import write_json_atomic

    doc = {
        "setup": setup_of(config),
        "snakefile": str(Path(snakefile).resolve()),
        "configfiles": [str(Path(p).resolve()) for p in configfiles],
    }
    path = Path(workdir) / RUN_RECORD
    if _read(workdir) != doc:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, doc)
    return path


def check_source(config: dict, workdir: str | os.PathLike = ".") -> None:
    """Refuse (one line), before any job runs, a run whose data must still be downloaded from the Hub
    when the Hub cannot be reached (nothing is started, so nothing is deleted)."""
    from adaptcommand.hub import hub_reachable
    from adaptcommand.schema import RAW_FILES

    data = config["data"]
    if data["source"] != "huggingface" or all((Path(workdir) / RAW / f).exists() for f in RAW_FILES):
        return
    ok, reason = hub_reachable()
    if not ok:
        raise RunSetupError(
            f"data.source: huggingface needs {data.get('hf_dataset')} from the Hugging Face Hub, which "
            f"cannot be reached ({reason}); nothing was started. Put the three files in a directory and "
            "set data.source: local, data.local_dir: <it>, or run the offline demo (--configfile "
            "config/demo.yaml)"
        )
