# One manifest per method with adapters, models/<method>/adapters.json: which adapter directory serves
# which known persona, with each unit's recipe, seed and what was selected on val (adaptcommand.manifests).
# Evaluation, method cards, merges and chat find adapters through it and nothing else. A method that
# serves new users with adapters chosen for them has models/<method>/new_users.json too.


def manifest_sources(wildcards):
    """The adapter directories (or manifests and assignments) a manifest is made from."""
    method = wildcards.method
    entry, kind = METHOD_TABLE[method], kind_of(METHOD_TABLE[method])
    if wildcards.population == "new_users":
        if entry["cold_start"] == "nearest_cluster":
            return dict(
                known=layout.manifest(method),
                assignments="results/cold_start/assignments.json",
            )
        return dict(units=[layout.unit_dir(method, p) for p in NEW_USERS])
    if kind.borrows:
        return dict(borrowed=layout.manifest(kind.borrows))
    if entry["scope"] == "all":
        return dict(units=[layout.unit_dir(method, layout.ALL)])
    if entry["scope"] == "persona":
        return dict(units=[layout.unit_dir(method, p) for p in PERSONAS])
    return dict(units=cluster_dirs(method), assignments=CLUSTERS.assignments_file())


rule adapter_manifest:
    input:
        unpack(manifest_sources),
    output:
        "models/{method}/{population}.json",
    log:
        "logs/adapter_manifest/{method}_{population}.log",
    benchmark:
        "results/benchmarks/adapter_manifest/{method}_{population}.tsv"
    wildcard_constraints:
        population="adapters|new_users",
    # In the Snakemake process (reads train_log.json files): no interpreter start per manifest.
    localrule: True
    threads: 1
    params:
        merge=lambda wc: UNIFIED if on_unified(wc.method) else "",
    run:
        from adaptcommand.manifests import method_manifest, new_user_manifest

        entry, files = METHOD_TABLE[wildcards.method], dict(input.items())
        if wildcards.population == "new_users":
            doc = new_user_manifest(
                output[0], wildcards.method, entry, NEW_USERS, **files
            )
        else:
            doc = method_manifest(
                output[0],
                wildcards.method,
                entry,
                PERSONAS,
                merge=params.merge,
                **files,
            )
        Path(log[0]).write_text(f"{len(doc['units'])} adapters\n")
