# One manifest per method and seed, models/<method>/seed<s>/adapters.json (new_users.json for the new
# users): which adapter serves whom, with each unit's recipe, seed and val selection; the only thing
# evaluation, method cards, merges and chat find adapters by (adaptcommand.manifests).


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
