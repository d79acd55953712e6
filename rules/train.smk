# Training, written once per scope for every method of the table whose kind trains (variants included):
# rule train_<method>, adapters models/<method>/seed<s>/<unit>/, the epoch chosen on val. Scope all: one
# adapter (unit `all`); persona: packs of `resources.pack_size` personas per job (train_<method>.<pack>,
# the members' directories its outputs); cluster: one per cluster of the seed's clustering.


for _method in trained(METHOD_TABLE, "all"):

    rule:
        name:
            f"train_{_method}"
        input:
            **train_inputs(_method),
        output:
            directory(layout.unit_dir(_method, "{seed}", layout.ALL)),
        log:
            layout.log(f"train_{_method}", "seed{seed}"),
        benchmark:
            layout.benchmark(f"train_{_method}", "seed{seed}")
        # On the critical path (hybrid, prefix on unified, routing wait for unified): start them first.
        priority: 10
        conda:
            "../envs/train.yaml"
        threads: RES["threads"]
        resources:
            **scheduling.gpu_resources(RES, "unified_runtime_min"),
        params:
            **train_params(_method),
            members={layout.ALL: PERSONAS},
        script:
            "../workflow/scripts/train_lora.py"


for _method in trained(METHOD_TABLE, "persona"):
    for _pack, _members in PACKS.items():

        rule:
            name:
                f"train_{_method}.{_pack}"
            input:
                **train_inputs(_method),
            output:
                [directory(layout.unit_dir(_method, "{seed}", p)) for p in _members],
            log:
                layout.log(f"train_{_method}", "seed{seed}", _pack),
            benchmark:
                layout.benchmark(f"train_{_method}", "seed{seed}", _pack)
            # Behind other methods (merges, the swapped control, routing): start those early.
            priority: 5 if _method in EXPERIMENT.reused else 0
            # On a cluster, profiles/slurm submits a family's pack jobs together (group-components).
            group:
                f"train_{_method}"
            conda:
                "../envs/train.yaml"
            threads: RES["threads"]
            resources:
                **scheduling.gpu_resources(RES, "train_runtime_min", len(_members)),
            params:
                **train_params(_method),
            script:
                "../workflow/scripts/train_lora.py"


for _method in trained(METHOD_TABLE, "cluster"):

    rule:
        name:
            f"train_{_method}"
        input:
            **train_inputs(_method),
            assignments=CLUSTERS.assignments_file,
        output:
            directory(layout.unit_dir(_method, "{seed}", "{cluster_id}")),
        log:
            layout.log(f"train_{_method}", "seed{seed}", "{cluster_id}"),
        benchmark:
            layout.benchmark(f"train_{_method}", "seed{seed}", "{cluster_id}")
        conda:
            "../envs/train.yaml"
        threads: RES["threads"]
        resources:
            **scheduling.gpu_resources(RES, "train_runtime_min"),
        params:
            **train_params(_method),
            members=CLUSTERS.members_param,
        script:
            "../workflow/scripts/train_lora.py"
