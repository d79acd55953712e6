"""The method table (workflow/methods.yaml) is the one definition of the methods: the README, the
config check and the rules agree with it, and a workflow whose table and rules disagree is refused
while it is parsed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from helpers import REPO, effective_config, planned_jobs, snakemake_cmd

from adaptcommand.methods import MethodTableError, load_methods

TABLE = load_methods(REPO / "workflow" / "methods.yaml")


def test_the_readme_describes_exactly_the_table():
    text = (REPO / "README.md").read_text()
    section = text[text.index("| method | what it is |") :]
    rows = section[: section.index("\n\n")].splitlines()[2:]
    named = {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert named == set(TABLE), named ^ set(TABLE)


def test_a_malformed_entry_is_refused(tmp_path):
    bad = tmp_path / "methods.yaml"
    bad.write_text("persona: {role: method, adapter: lora, scope: user, start: base, rules: [], about: x}\n")
    with pytest.raises(MethodTableError, match="persona.scope = 'user'"):
        load_methods(bad)


def _workflow_copy(tmp_path):
    copy = tmp_path / "repo"
    copy.mkdir()
    for part in ("Snakefile", "rules", "workflow", "config", "profiles"):
        src = REPO / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, copy / part)
    return copy


@pytest.mark.parametrize(
    "entry, problem",
    [
        (
            "persona_r4: {role: method, adapter: lora, scope: persona, start: base, rules: [train_persona], "
            "about: a rank-4 persona LoRA}",
            "they need their recipe train.<name>",
        ),
        (
            "route_clusters: {role: method, adapter: routing, scope: cluster, start: base, "
            "rules: [route], about: routing per cluster}",
            "adapter 'routing' with scope 'cluster': the workflow has no rules for it",
        ),
    ],
)
def test_a_table_the_rules_do_not_implement_is_refused(tmp_path, entry, problem):
    copy = _workflow_copy(tmp_path)
    table = copy / "workflow" / "methods.yaml"
    table.write_text(table.read_text() + entry + "\n")
    cmd = snakemake_cmd(tmp_path / "work", [copy / "config" / "demo.yaml"], "--dry-run")
    cmd[cmd.index("-s") + 1] = str(copy / "Snakefile")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1 and problem in proc.stdout + proc.stderr, proc.stderr[-2000:]


def test_a_rule_named_by_the_table_must_exist(tmp_path):
    copy = _workflow_copy(tmp_path)
    table = copy / "workflow" / "methods.yaml"
    table.write_text(table.read_text().replace("rules: [train_unified]", "rules: [train_unifed]", 1))
    cmd = snakemake_cmd(tmp_path / "work", [copy / "config" / "demo.yaml"], "--dry-run")
    cmd[cmd.index("-s") + 1] = str(copy / "Snakefile")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "unified.rules names no rule ['train_unifed']" in log, log[-2000:]


def test_a_method_of_an_existing_kind_is_one_table_entry_and_its_recipe(tmp_path):
    """A per-persona LoRA on attention only: the table entry and train.persona_attn are all it takes;
    the generic rule trains it as train_persona_attn, and its evaluation follows."""
    copy = _workflow_copy(tmp_path)
    table = copy / "workflow" / "methods.yaml"
    table.write_text(
        table.read_text() + "persona_attn: {role: method, adapter: lora, scope: persona, start: base, "
        "rules: [train_persona_attn], about: a persona LoRA on the attention layers only}\n"
    )
    overlay = tmp_path / "attn.yaml"
    overlay.write_text(
        "train:\n  persona_attn: {r: 8, alpha: 16, dropout: 0.05, target_modules: [q_proj, v_proj],"
        " lr: 0.006, epochs: 12, patience: 2, batch_size: 4}\n"
        "eval:\n  methods: [base, persona_attn]\n  controls: []\npersonas:\n  cold_start: 0\n"
        "compare:\n  positive_control: ''\n"
    )
    cmd = snakemake_cmd(tmp_path / "work", [copy / "config" / "demo.yaml", overlay], "--dry-run")
    cmd[cmd.index("-s") + 1] = str(copy / "Snakefile")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    jobs = planned_jobs(proc)
    # one training and evaluation per seed (pack_size 0: every persona in one job), the base's once
    # (one learned method on test: no evaluation pack)
    seeds = len(effective_config(REPO / "config" / "demo.yaml")["train"]["seeds"])
    assert jobs.get("train_persona_attn") == seeds and jobs.get("evaluate") == 1 + seeds, jobs
