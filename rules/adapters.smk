# Every adapter directory, models/<method>/seed<s>/<unit>/, is made by one rule written once: the jobs
# of rules/train.smk (TRAIN_JOBS) and rules/merge.smk (MERGE_JOBS), one rule per job family
# (scheduling.AdapterJob). Then one manifest per method and seed,
# models/<method>/seed<s>/adapters.json (new_users.json for the new users): which adapter serves whom,
# with each unit's recipe, seed and val selection; the only thing evaluation, method cards, merges and
# chat find adapters by (adaptcommand.manifests).


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
        script:
            f"../workflow/scripts/{_job.script}"


rule adapter_manifest:
    input:
        unpack(manifest_sources),
    output:
        layout.manifest("{method}", "{seed}", "{population}"),
    log:
        layout.log("adapter_manifest", "{method}", "seed{seed}_{population}"),
    benchmark:
        layout.benchmark("adapter_manifest", "{method}", "seed{seed}_{population}")
    wildcard_constraints:
        population="adapters|new_users",
    # On the submitting host (reads train_log.json files, writes one JSON file).
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        manifest=manifest_spec,
        code=script_hash("adapter_manifest.py"),
    script:
        "../workflow/scripts/adapter_manifest.py"
