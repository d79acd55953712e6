"""The method table (workflow/methods.yaml) is the one definition of the methods: the README, the
config check and the rules agree with it, and a workflow whose table and rules disagree is refused
while it is parsed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from helpers import REPO, effective_config, planned_jobs, snakemake_cmd

from adaptcommand.methods import KINDS, MethodTableError, derived_rules, load_methods

TABLE = load_methods(REPO / "workflow" / "methods.yaml")
SCHEMA = REPO / "workflow" / "schemas" / "methods.schema.yaml"

# The table's `rules` column as it was typed by hand (workflow/methods.yaml at 318a5ff), before it
# was derived: the derivation gives every row the same rules in the same order.
TYPED_RULES = {
    "base": [],
    "unified": ["train_unified"],
    "persona": ["train_persona"],
    "hybrid": ["train_unified", "train_hybrid"],
    "cluster": ["cluster_personas", "train_cluster"],
    "prefix_persona": ["train_prefix_persona"],
    "prefix_cluster": ["cluster_personas", "train_prefix_cluster"],
    "prefix_unified_persona": ["train_unified", "train_prefix_unified_persona"],
    "prefix_unified_cluster": ["train_unified", "cluster_personas", "train_prefix_unified_cluster"],
    "merge_neighbors": ["train_persona", "cluster_personas", "merge_neighbors"],
    "merge_cluster": ["train_persona", "cluster_personas", "merge_cluster"],
    "routing": ["route"],
    "history": ["retrieve_history", "train_history"],
    "persona_swapped": ["train_persona"],
}
# The rows added after it (issue 28): derived alike.
ADDED_RULES = {
    "retrieval": ["retrieve_history"],
    "persona_prompt": [],
    "oppu": ["train_unified", "retrieve_history", "train_oppu"],
    "merge_adapt": ["train_persona", "cluster_personas", "merge_neighbors", "train_merge_adapt"],
}


def test_the_rules_are_derived_as_they_were_typed():
    assert {m: e["rules"] for m, e in TABLE.items()} == TYPED_RULES | ADDED_RULES
    assert all(derived_rules(m, TABLE) == rules for m, rules in (TYPED_RULES | ADDED_RULES).items())


def test_the_kinds_and_the_schema_agree():
    """Every adapter kind the schema allows means something to the workflow (KINDS), and back; a
    kind's scopes are scopes of the schema."""
    import yaml

    fields = yaml.safe_load(SCHEMA.read_text())["additionalProperties"]["properties"]
    assert set(KINDS) == set(fields["adapter"]["enum"])
    assert {s for k in KINDS.values() for s in k.scopes} <= set(fields["scope"]["enum"])


def _table(tmp_path, text: str):
    path = tmp_path / "methods.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, problem",
    [
        (  # a column that is derived now
            "persona: {role: method, adapter: lora, scope: persona, start: base, rules: [], about: x}\n",
            "methods.yaml: persona.rules: unknown field (derived from adapter, scope and start",
        ),
        (
            "persona: {role: method, adapter: lora, scope: persona, start: base}\n",
            "methods.yaml: persona: 'about' is a required property",
        ),
        (
            "persona: {role: method, adapter: lora, scope: persona, start: bsae, about: x}\n",
            "methods.yaml: persona.start = 'bsae' needs the method 'bsae' in the table",
        ),
        ("persona: lora\n", "methods.yaml: persona = 'lora': expected a mapping of its fields"),
        (
            "Persona: {role: method, adapter: lora, scope: persona, start: base, about: x}\n",
            "methods.yaml: 'Persona': not a method name",
        ),
        ("[persona]\n", "methods.yaml: expected a mapping of method names"),
        (  # what the schema cannot say: the kinds' scopes, cold starts, the methods named by others
            "persona: {role: method, adapter: lora, scope: persona, start: unified, about: x}\n",
            "methods.yaml: persona.start = 'unified' needs the method 'unified' in the table",
        ),
        (
            "merged: {role: method, adapter: merge, scope: persona, start: base, about: x}\n",
            "methods.yaml: merged.adapter = 'merge' needs the method 'persona' in the table",
        ),
        (
            "unified: {role: method, adapter: lora, scope: persona, start: base, about: x}\n"
            "hybrid: {role: method, adapter: lora, scope: cluster, start: unified, about: x}\n",
            "methods.yaml: hybrid.start = 'unified' needs unified to be one adapter for everybody",
        ),
        (
            "persona: {role: method, adapter: merge, scope: persona, start: base, about: x}\n",
            "methods.yaml: persona starts from, borrows or merges itself: persona -> persona",
        ),
        (
            "persona: {role: method, adapter: lora, scope: persona, start: base, cold_start: same, "
            "about: x}\n",
            "methods.yaml: persona.cold_start = 'same' needs one adapter for everybody",
        ),
    ],
)
def test_a_malformed_table_is_refused_naming_the_file_the_method_and_the_field(tmp_path, text, problem):
    with pytest.raises(MethodTableError) as failure:
        load_methods(_table(tmp_path, text), schema=SCHEMA)
    assert problem in str(failure.value), str(failure.value)


def test_every_problem_is_one_line(tmp_path):
    text = (
        "persona: {role: method, adapter: lora, scope: user, start: base, about: x}\n"
        "unified: {role: methd, adapter: lora, scope: all, start: base, about: x, rules: []}\n"
    )
    with pytest.raises(MethodTableError) as failure:
        load_methods(_table(tmp_path, text), schema=SCHEMA)
    lines = str(failure.value).splitlines()
    assert len(lines) == 3 and all(line.startswith(f"{tmp_path / 'methods.yaml'}: ") for line in lines), lines


def test_the_schema_lies_beside_the_table(tmp_path):
    """Without `schema`, load_methods reads workflow/schemas/methods.schema.yaml beside the table (a
    copy of the workflow checks its own table); a table without one is refused, naming the schema."""
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "methods.schema.yaml").write_text(SCHEMA.read_text())
    table = _table(tmp_path, (REPO / "workflow" / "methods.yaml").read_text())
    assert load_methods(table) == TABLE
    (tmp_path / "bare").mkdir()
    with pytest.raises(MethodTableError, match="with its schema .*/schemas/methods.schema.yaml"):
        load_methods(_table(tmp_path / "bare", table.read_text()))


def test_the_readme_describes_exactly_the_table():
    text = (REPO / "README.md").read_text()
    section = text[text.index("| method | what it is |") :]
    rows = section[: section.index("\n\n")].splitlines()[2:]
    named = {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    import yaml

    variants = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["variants"]  # rows too
    assert named == set(TABLE) | set(variants), named ^ (set(TABLE) | set(variants))


def test_a_malformed_entry_is_refused(tmp_path):
    bad = _table(tmp_path, "persona: {role: method, adapter: lora, scope: user, start: base, about: x}\n")
    with pytest.raises(MethodTableError, match="persona.scope = 'user'"):
        load_methods(bad, schema=SCHEMA)


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
            "persona_r4: {role: method, adapter: lora, scope: persona, start: base, "
            "about: a rank-4 persona LoRA}",
            "they need their recipe train.<name>",
        ),
        (
            "route_clusters: {role: method, adapter: routing, scope: cluster, start: base, "
            "about: routing per cluster}",
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


def test_a_rule_the_table_derives_must_exist(tmp_path):
    """The rules derived from the table (its `rules`) are checked against the rules files: a rules
    file that no longer makes one (rule route renamed) is refused while the workflow is parsed."""
    copy = _workflow_copy(tmp_path)
    routing = copy / "rules" / "routing.smk"
    text = routing.read_text()
    assert text.count(" as route with:") == 1  # (use rule routing_oracle as route with: ...)
    routing.write_text(text.replace(" as route with:", " as route_renamed with:"))
    cmd = snakemake_cmd(tmp_path / "work", [copy / "config" / "demo.yaml"], "--dry-run")
    cmd[cmd.index("-s") + 1] = str(copy / "Snakefile")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "routing.rules names no rule ['route']" in log, log[-2000:]


def test_a_method_of_an_existing_kind_is_one_table_entry_and_its_recipe(tmp_path):
    """A per-persona LoRA on attention only: the table entry and train.persona_attn are all it takes;
    the generic rule trains it as train_persona_attn, and its evaluation follows."""
    copy = _workflow_copy(tmp_path)
    table = copy / "workflow" / "methods.yaml"
    table.write_text(
        table.read_text() + "persona_attn: {role: method, adapter: lora, scope: persona, start: base, "
        "about: a persona LoRA on the attention layers only}\n"
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
