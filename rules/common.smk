# Config validation, the persona sets, settings as named params and the input functions the rules
# share. Where files live: adaptcommand.layout; how jobs are cut: adaptcommand.scheduling; what a
# method costs: adaptcommand.costs; what each adapter kind means: methods.KINDS.
import hashlib
import os
from pathlib import Path

from snakemake.logging import logger

from adaptcommand import costs, integrity, layout, rundir, scheduling
from adaptcommand.clusters import ClusterCheckpoint
from adaptcommand.config_checks import refuse_config_errors, validated_config
from adaptcommand.experiment import Experiment, train_sessions
from adaptcommand.methods import has_history, kind_of, trained
from adaptcommand.profiles import group_components, ungrouped_families
from adaptcommand.runtime import mark_workflow_process
from adaptcommand.scheduling import AdapterJob
from adaptcommand.schema import RAW_FILES
from adaptcommand.settings import plain
from adaptcommand.tracking import track_directories_by_content

# Directory inputs (models/base, adapters) tracked by content like files: a copied run re-runs nothing.
track_directories_by_content()
# The jobs of this Snakemake process stop when it is gone (kill -9): no orphan writes its outputs.
mark_workflow_process()

# The method table (workflow/methods.yaml) plus the config's `variants`; the schema, then what a schema
# cannot say (settings the mode ignores, user paths where the workflow writes, another setup than the
# run directory's: adaptcommand.rundir): every problem before any job starts, one line each.
with refuse_config_errors():
    METHOD_TABLE = validated_config(config, workflow.basedir, workdir=os.getcwd())
    rundir.check_setup(config)

# Who learns, who is a new user (rules/cold_start.smk), what manifests and cards are made of.
EXPERIMENT = Experiment(config, METHOD_TABLE)
N_PERSONAS = config["data"]["n_personas"]
PERSONAS, NEW_USERS = EXPERIMENT.personas, EXPERIMENT.new_users
METHODS = config["eval"]["methods"]
# Controls are scored exactly like methods but are never methods (labelled in the comparison).
CONTROLS = config["eval"]["controls"]
SCORED = EXPERIMENT.scored
NEW_USER_METHODS = EXPERIMENT.new_user_methods
RES = config["resources"]
# Per-persona jobs: `resources.pack_size` personas per job (0 = all), {label: members}; the label
# names the job (rule, log, benchmark), never a result (scheduling.packs).
PACKS = scheduling.packs(PERSONAS, RES["pack_size"])
NEW_USER_PACKS = scheduling.packs(NEW_USERS, RES["pack_size"]) if NEW_USERS else {}
# With resources.eval_pack_size, {split: {label: methods}}: the methods one job per seed evaluates
# (evaluate_pack.<split>.<label>; Experiment.eval_packs).
EVAL_PACKS = EXPERIMENT.eval_packs
# The seed's clustering, read by the per-cluster rules once the checkpoint (rules/cluster.smk) ran.
CLUSTERS = ClusterCheckpoint(checkpoints)
# How history is retrieved (rules/history.smk; also what `adaptcommand chat` retrieves with: the card).
RETRIEVAL = dict(
    k=config["history"]["k"],
    query_turns=config["eval"]["skip_assistant_turns"] + 1,
    minilm=config["metrics"]["minilm"],
)


# The evaluation sets: val and test of the known personas, cold_start the new users' test split.
eval_data = lambda wildcards: EXPERIMENT.eval_data(wildcards.split)
data_split = lambda wildcards: EXPERIMENT.data_split(wildcards.split)
eval_personas = lambda wildcards: EXPERIMENT.eval_personas(wildcards.split)


wildcard_constraints:
    persona_id=r"persona_\d{3}",
    cluster_id=r"c\d+",
    seed=rf"\d+({layout.BUDGET_MARK}\d+)?",
    run=rf"({layout.UNTRAINED}|seed\d+)({layout.BUDGET_MARK}\d+)?",
    budget=rf"({layout.BUDGET_MARK}\d+)?",
    split=f"val|test|{layout.COLD}",
    method="|".join(METHOD_TABLE),


def script_hash(name):
    """A digest of script `name`, a param of the rule running it (an edit re-runs that rule, a
    moved run nothing)."""
    path = os.path.join(workflow.basedir, "workflow", "scripts", name)
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


def raw_files(downloaded):
    """The raw files clean_data reads: with data.source local the user's own, read in place and
    tracked by content (ancient; their digest is a param), else `downloaded` (rule raw_data).
    """
    if config["data"]["source"] != "local":
        return dict(downloaded.items())
    local = config["data"]["local_dir"]
    return {Path(name).stem: ancient(os.path.join(local, name)) for name in RAW_FILES}


# The workflow builds model.base itself: the demo's tiny Qwen2, or a GGUF converted (rules/base.smk).
BUILT_BASE = config["model"]["build_demo_base"] or bool(
    config["model"]["gguf"]["package"]
)


def base_model_input():
    """The base model directory when the workflow builds it (demo, GGUF); nothing for a Hub id."""
    return [config["model"]["base"]] if BUILT_BASE else []


def base_model_param():
    """params.base: derived from input `base` when the workflow builds it (demo, GGUF), else model.base."""
    if BUILT_BASE:
        return lambda wildcards, input: input.base[0]
    return config["model"]["base"]


# Settings cross to the library as named sections (adaptcommand.settings builds typed settings from
# exactly their keys); a params dict keeps its names in Snakemake's rerun check.
PROMPT = EXPERIMENT.prompt
GENERATION = plain({k: config["eval"][k] for k in ("max_new_tokens", "batch_size")})
SCORING = plain(config["metrics"])


# What a job of a draw ({seed}: a seed, with its budget of train.sessions) learns from: "splits",
# "history_train", "history_val" (adaptcommand.experiment.Experiment.learned_from).
learned = lambda key: lambda wc: EXPERIMENT.learned_from(wc.seed)[key]


def train_inputs(method):
    """Inputs of the training of `method`: data (the draw's budget), base, the adapter it starts from
    (of the job's draw), with history in its prompts the retrieved exchanges of train and val.
    """
    inputs = dict(
        dialogs=layout.CLEAN, splits=learned("splits"), base=base_model_input()
    )
    if EXPERIMENT.start_kind(method):
        inputs["start"] = EXPERIMENT.start_adapter(method, "{seed}")
    if has_history(METHOD_TABLE[method]):
        inputs |= {k: learned(k) for k in ("history_train", "history_val")}
    return inputs


def train_params(method):
    """Params of the training of `method` besides its recipe (rules/train.smk): the prompt, the job's
    seed, how a pack is trained, the script digest, the base and the model it starts from.
    """
    kind = EXPERIMENT.start_kind(method)  # "merge" the start's dir, "fold" its manifest
    start = {kind: lambda wc, input: input.start} if kind else {}
    return dict(
        prompt=EXPERIMENT.prompt_of(method),
        seed=lambda wc: layout.seed_number(wc.seed),
        batched=RES["batched_training"],
        code=script_hash("train_lora.py"),
        base=base_model_param(),
        **start,
    )


def rules_of(family):
    """The rules of `family`: the rule of that name, or its pack rules "<family>.<label>"."""
    return [r for r in workflow.rules if r.name.split(".")[0] == family]


def check_method_rules():
    """After every rules file is included: each rule the table names exists (or a family of them); a
    per-persona family of this run that profiles/slurm does not group is named in a warning.
    """
    EXPERIMENT.check_rules({r.name.split(".")[0] for r in workflow.rules})
    used = {m: METHOD_TABLE[m] for m in set(SCORED) | EXPERIMENT.reused}
    slurm = group_components(Path(workflow.basedir) / "profiles/slurm/config.yaml")
    for family in ungrouped_families(used, slurm, new_users=bool(NEW_USERS)):
        logger.warning(
            f"profiles/slurm: group-components does not name {family}: on Slurm each of its "
            f"pack jobs is a job of its own (add `{family}: N` there)"
        )


# ---- what evaluation, cards and the comparison read ------------------------------------------------


def manifest_inputs(wildcards):
    """The manifest of `wildcards.method`'s run for evaluation set `wildcards.split` ([] for the base)."""
    w = wildcards
    return layout.manifest_for(w.method, METHOD_TABLE[w.method], w.split, w.run)


# The runs of a method on an evaluation set: seed<s>[-n<N>] per draw if it learns, else `untrained`.
runs = EXPERIMENT.runs
history_inputs = lambda wc: EXPERIMENT.history_for(wc.method, wc.split, wc.run)


def pack_inputs(methods):
    """Input function of an evaluation pack of `methods`: the data and targets, the base, and every
    member's manifest and retrieved history for the job's split and seed."""

    def inputs(wildcards):
        run = layout.run_of(wildcards.seed)
        members = EXPERIMENT.eval_members(methods, wildcards.split, run).values()
        return dict(
            **eval_data(wildcards),
            targets=layout.targets(wildcards.split),
            base=base_model_input(),
            manifests=sorted({m["manifest"] for m in members} - {""}),
            history=sorted({m["history"] for m in members} - {""}),
        )

    return inputs


def cost_files(method, split="test"):
    """{"gpu" | "cpu": benchmark files of the jobs behind `method` on `split`} (adaptcommand.costs)."""
    on_gpu = lambda family: any("gpu" in r.resources for r in rules_of(family))
    candidates = config["routing"]["candidates"]
    args = (METHOD_TABLE, split, EXPERIMENT.full_draws, candidates, EVAL_PACKS, on_gpu)
    return costs.cost_files(method, *args)


# ---- Merges (rules/merge.smk) ------------------------------------------------------------------------


def merge_params(method, **extra):
    """The merge settings, the prompt, the val-loss batch (the merged method's recipe) and the base."""
    merged, entry = kind_of(METHOD_TABLE[method]).merges, METHOD_TABLE[method]
    return dict(
        merge=plain(config["merge"] | entry.get("merge", {})),  # (a variant's keys)
        prompt=EXPERIMENT.prompt_of(method),
        val_batch_size=config["train"][merged]["batch_size"],
        code=script_hash("merge_adapters.py"),
        base=base_model_param(),
        **extra,
    )


def merge_inputs(method):
    """Data, base and the adapters `method` merges, of the job's seed (their manifest)."""
    merged = kind_of(METHOD_TABLE[method]).merges
    adapters = layout.manifest(merged, "{seed}")
    return dict(
        dialogs=layout.CLEAN,
        splits=layout.SPLITS,
        base=base_model_input(),
        adapters=adapters,
    )


def merge_jobs(method):
    """(rule family, packs, similarity file, val_neighbors) of the persona merges of `method`."""
    yield method, PACKS, layout.clustering("{seed}", "similarity.json"), 0
    if METHOD_TABLE[method]["cold_start"] == "nearest_personas":
        k = config["merge"]["neighbors_k"]
        similarity = layout.new_user_assignment("{seed}", "similarity.json")
        yield f"{method}_new_users", NEW_USER_PACKS, similarity, k


# ---- Manifests (rules/adapters.smk) and method cards (rules/eval.smk): adaptcommand.experiment -----


# Rules that read stored results make the damaged ones again first (adaptcommand.integrity).
remaking = integrity.Remake(workflow, EXPERIMENT).around


@remaking
def manifest_sources(wildcards):
    """The adapter directories (or manifests and assignments) a manifest is made from."""
    w = wildcards  # (a cluster-scope method's clusters: after the clustering checkpoint)
    clusters = lambda: (CLUSTERS.ids(w), CLUSTERS.assignments_file(w))
    return EXPERIMENT.manifest_sources(w.method, w.population, w.seed, clusters)


def manifest_spec(wildcards):
    """params.manifest: who a manifest serves, and the table fields that decide how."""
    return EXPERIMENT.manifest_spec(
        wildcards.method, wildcards.population, wildcards.seed
    )


def card_inputs(wildcards):
    """A card's inputs: the run's manifests and the data the chat reads (routing: its choices)."""
    return EXPERIMENT.card_inputs(wildcards.method, wildcards.run, base_model_input())


def card_param(wildcards):
    """The card's content (adaptcommand.chat.card), paths relative to the run directory."""
    return EXPERIMENT.card(wildcards.method, wildcards.run, RETRIEVAL)


# ---- The comparison (rules/report.smk) ---------------------------------------------------------------


def in_report(name, caption, label):
    """results/comparison/<name>, shown in `snakemake --report` with workflow/report/<caption>.rst."""
    return report(
        layout.comparison(name),
        caption=f"../workflow/report/{caption}.rst",
        category="Comparison",
        labels={"result": label},
    )


def eval_files(split, methods, name, budgets=None):
    """`name` (metrics, per_persona) of every run of every method of `methods` on `split` (at
    `budgets`; default the largest), in the order of params runs / new_user_runs."""
    runs_of = lambda m: runs(m, split, budgets or EXPERIMENT.budgets[-1:])
    return [layout.eval_files(split, m, r)[name] for m in methods for r in runs_of(m)]
