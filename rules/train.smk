# Training, written once per scope for every method of the table whose kind trains (variants included):
# rule train_<method>, adapters models/<method>/seed<s>/<unit>/, the epoch chosen on val. Scope all: one
# adapter (unit `all`); persona: packs of `resources.pack_size` personas per job (train_<method>.<pack>,
# the members' directories its outputs); cluster: one per cluster of the seed's clustering. The rule
# that runs them (and the merges): rules/adapters.smk.
TRAIN_JOBS = (
    [
        # On the critical path (hybrid, prefix on unified, routing wait for unified): start them first.
        AdapterJob(
            f"train_{m}",
            m,
            [layout.ALL],
            "train_lora.py",
            train_inputs(m),
            train_params(m) | {"members": {layout.ALL: PERSONAS}},
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
            train_params(m),
            scheduling.gpu_resources(RES, "train_runtime_min", len(members)),
            label=pack,
            priority=5 if m in EXPERIMENT.reused else 0,
            group=f"train_{m}",
        )
        for m in trained(METHOD_TABLE, "persona")
        for pack, members in PACKS.items()
    ]
    + [
        AdapterJob(
            f"train_{m}",
            m,
            ["{cluster_id}"],
            "train_lora.py",
            train_inputs(m) | {"assignments": CLUSTERS.assignments_file},
            train_params(m) | {"members": CLUSTERS.members_param},
            scheduling.gpu_resources(RES, "train_runtime_min"),
            label="{cluster_id}",
        )
        for m in trained(METHOD_TABLE, "cluster")
    ]
)
