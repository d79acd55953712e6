# Training, once per scope for every trained method of the table (variants included): rule
# train_<method>, adapters models/<method>/seed<s>/<unit>/, the epoch chosen on val; unit `all`, packs of
# personas (resources.pack_size), or a seed's clusters. The loop below writes every adapter directory:
# these trainings and the merges (rules/merge.smk, MERGE_JOBS), a rule per job family (AdapterJob).
RECIPES = EXPERIMENT.recipes
FIRST_SESSIONS = dict(first_sessions=config["history"]["cold_start_sessions"])
TRAIN_JOBS = (
    [
        # On the critical path (hybrid, prefix on unified, routing wait for unified): start them first.
        AdapterJob(
            f"train_{m}",
            m,
            [layout.ALL],
            "train_lora.py",
            train_inputs(m),
            train_params(m) | {"recipe": RECIPES[m], "members": {layout.ALL: PERSONAS}},
            scheduling.gpu_resources(RES, "unified_runtime_min"),
            priority=10,
        )
        for m in trained(METHOD_TABLE, "all")
    ]
    + [
        # Behind other methods (merges, the swapped control, routing): start those early.
        AdapterJob(
            f"train_{m}",
            m,
            members,
            "train_lora.py",
            train_inputs(m),
            train_params(m) | {"recipe": RECIPES[m]},
            scheduling.gpu_resources(RES, "train_runtime_min", len(members)),
            label=pack,
            priority=5 if m in EXPERIMENT.reused else 0,
            group=f"train_{m}",
        )
        for m in trained(METHOD_TABLE, "persona")
        for pack, members in PACKS.items()
    ]
    + [
        # cold_start adapt: each new user's start adapter trained further on its first sessions
        AdapterJob(
            f"train_{m}_new_users",
            m,
            members,
            "train_lora.py",
            EXPERIMENT.adapting_inputs(m) | {"base": base_model_input()},
            train_params(m) | {"recipe": RECIPES[m], **FIRST_SESSIONS},
            scheduling.gpu_resources(RES, "train_runtime_min", len(members)),
            label=pack,
            group=f"train_{m}_new_users",
        )
        for m in EXPERIMENT.adapting
        for pack, members in NEW_USER_PACKS.items()
    ]
    + [
        AdapterJob(
            f"train_{m}",
            m,
            ["{cluster_id}"],
            "train_lora.py",
            train_inputs(m) | {"assignments": CLUSTERS.assignments_file},
            train_params(m) | {"recipe": RECIPES[m], "members": CLUSTERS.members_param},
            scheduling.gpu_resources(RES, "train_runtime_min"),
            label="{cluster_id}",
        )
        for m in trained(METHOD_TABLE, "cluster")
    ]
)


for _job in TRAIN_JOBS + MERGE_JOBS:

    rule:
        name:
            _job.name
        input:
            **_job.inputs,
        output:
            [directory(layout.unit_dir(_job.method, "{seed}", u)) for u in _job.units],
        log:
            layout.log(_job.family, *_job.job),
        benchmark:
            layout.benchmark(_job.family, *_job.job)
        priority: _job.priority
        group:
            _job.group
        conda:
            "../envs/train.yaml"
        threads: RES["threads"]
        resources:
            **_job.resources,
        params:
            **_job.params,
            # The script is named through a param: `script:` is evaluated again when the job runs,
            # when _job is the loop's last. (A param that takes `output` is not a rerun trigger;
            # the script's digest, params.code, is.)
            script=lambda wildcards, output, name=_job.script: name,
        script:
            "../workflow/scripts/{params.script}"
