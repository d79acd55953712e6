"""The user's dataset is safe (issue 22): never deleted, never silently ignored, never silently reused.

- A configuration in which the workflow would write, move or delete a file it reads as the user's is
  refused before any job (data.local_dir inside data/raw/, where Snakemake deletes the raw_data
  rule's outputs to make them again), and the files survive byte for byte.
- The user's files are tracked by content, not by mtime, at a size above Snakemake's own checksum
  limit (1 MB): a touch re-runs nothing, new content with an OLDER mtime (cp -p, tar -x, rsync -a)
  re-cleans.
- Every rule writes under adaptcommand.layout.OUTPUT_DIRS, the directories a user's path may
  not point into.
(A settings the mode ignores, unreadable and misplaced files, YAML and key errors: test_bad_inputs.py;
a copied run and a killed Snakemake: test_crash_recovery.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from helpers import REPO, planned_jobs, snakemake_cmd

from adaptcommand.demo import synthetic
from adaptcommand.layout import OUTPUT_DIRS
from adaptcommand.schema import RAW_FILES

CHAR, ROUT, SESS = RAW_FILES
DEMO = REPO / "config" / "demo.yaml"
SLICE = REPO / "tests" / "configs" / "slurm-slice.yaml"  # 4 personas, tiny model
SPLITS = "data/splits/edgesplits.json"


def _overlay(path: Path, data: dict) -> Path:
    path.write_text(
        yaml.safe_dump({"personas": {"cold_start": 0}, "merge": {"neighbors_k": 1}, "data": data})
    )
    return path


def _run(work: Path, configs: list[Path], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd(work, configs, *args), capture_output=True, text=True, timeout=300)


def test_user_files_inside_the_workflows_outputs_are_refused_and_survive(tmp_path):
    """Case 1: a finished run's data/raw/ holds the generator's files; the user copies their dataset
    over them and sets data.source local, data.local_dir data/raw. Snakemake would delete the
    raw_data rule's outputs (now the user's files) before making them again: refused instead, before
    any job, naming the key and the path, and the files are untouched."""
    work = tmp_path / "work"
    first = _run(work, [DEMO, SLICE], "data/raw/sessions.jsonl")
    assert first.returncode == 0, first.stderr[-3000:]
    mine = tmp_path / "mine"
    synthetic.write_raw(mine, n_personas=4, sessions_per_persona=50, seed=11)
    for name in RAW_FILES:
        (work / "data" / "raw" / name).write_bytes((mine / name).read_bytes())
    overlay = _overlay(tmp_path / "local.yaml", {"source": "local", "local_dir": "data/raw"})
    proc = _run(work, [DEMO, SLICE, overlay], SPLITS)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, log[-3000:]
    errors = [line for line in log.splitlines() if line.startswith("config: ")]
    assert errors and errors[0].startswith(
        f"config: data.local_dir = 'data/raw': {work / 'data' / 'raw'} is inside data/raw/"
    ), log[-3000:]
    assert "Traceback" not in log
    for name in RAW_FILES:
        assert (work / "data" / "raw" / name).read_bytes() == (mine / name).read_bytes(), name
    assert not (work / "data" / "cleaned").exists()


def _pad_lines(path: Path, size: int) -> None:
    """Trailing spaces on every line (JSONL allows them) until the file has at least `size` bytes."""
    lines = path.read_bytes().splitlines()
    pad = b" " * (size // len(lines) + 1)
    path.write_bytes(b"".join(line + pad + b"\n" for line in lines))


def test_user_files_are_tracked_by_content_not_mtime_at_real_size(tmp_path):
    """Case 3, with the user's sessions.jsonl of 6 MB (Snakemake checksums only files under 1 MB):
    touching the files re-runs nothing; new content carrying an older mtime re-cleans."""
    user = tmp_path / "my_data"
    synthetic.write_raw(user, n_personas=3, sessions_per_persona=5, seed=11)
    _pad_lines(user / SESS, 6_000_000)
    assert (user / SESS).stat().st_size > 5_000_000
    overlay = _overlay(
        tmp_path / "local.yaml",
        {"source": "local", "local_dir": str(user), "n_personas": 3, "sessions_per_persona": 5},
    )
    work = tmp_path / "work"
    configs = [DEMO, overlay]
    first = _run(work, configs, SPLITS)
    assert first.returncode == 0, first.stderr[-3000:]

    time.sleep(1)
    for name in RAW_FILES:  # touched: newer than every output, the same content
        os.utime(user / name)
    touched = _run(work, configs, SPLITS, "--dry-run")
    assert "Nothing to be done" in touched.stdout + touched.stderr, touched.stdout[-3000:]

    lines = (user / CHAR).read_bytes().splitlines()
    character = json.loads(lines[0])
    character["character"] = "Ann now likes loud mornings and a cold flat."
    lines[0] = json.dumps(character).encode()
    (user / CHAR).write_bytes(b"\n".join(lines) + b"\n")
    old = time.time() - 10 * 365 * 86400  # new content, an old release's date (cp -p, tar -x)
    os.utime(user / CHAR, (old, old))
    replaced = _run(work, configs, SPLITS, "--dry-run")
    assert "clean_data" in planned_jobs(replaced), replaced.stdout[-3000:]
    again = _run(work, configs, SPLITS)
    assert again.returncode == 0, again.stderr[-3000:]
    cleaned = (work / "data" / "cleaned" / "dialogs_clean.jsonl").read_text()
    assert "Ann now likes loud mornings" in cleaned


RULE_PATHS = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

repo, work, configs = Path(sys.argv[1]), Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]]
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(cores=1),
        config_settings=ConfigSettings(configfiles=configs),
        snakefile=repo / "Snakefile",
        workdir=work,
    )._workflow
    paths = {
        rule.name: [str(f) for f in [*rule.output, *rule.log, *([rule.benchmark] if rule.benchmark else [])]]
        for rule in workflow.rules
    }
print(json.dumps(paths))
"""


def test_every_rule_writes_under_the_output_directories(tmp_path):
    """The directories a user's path may not point into (OUTPUT_DIRS) hold every output, log and
    benchmark of every rule (the demo's rules: the full config's are the same but the demo base)."""
    proc = subprocess.run(
        [sys.executable, "-c", RULE_PATHS, str(REPO), str(tmp_path), str(DEMO)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    paths = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(paths) > 20
    outside = {
        rule: path
        for rule, files in paths.items()
        for path in files
        if not any(path == d or path.startswith(d + "/") for d in OUTPUT_DIRS)
    }
    assert not outside, outside
