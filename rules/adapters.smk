# One manifest per method and seed, models/<method>/seed<s>/adapters.json (new_users.json for the new
# users): which adapter serves whom, with each unit's recipe, seed and val selection; the only thing
# evaluation, method cards, merges and chat find adapters by (adaptcommand.manifests).


def manifest_sources(wildcards):
    """The adapter directories (or manifests and assignments) a manifest is made from."""
    method = wildcards.method
    entry, kind = METHOD_TABLE[method], kind_of(METHOD_TABLE[method])
    seed = wildcards.seed
    if wildcards.population == "new_users":
        if entry["cold_start"] == "nearest_cluster":
            return dict(
                known=layout.manifest(method, seed),
                assignments=f"results/cold_start/seed{seed}/assignments.json",
            )
        return dict(units=[layout.unit_dir(method, seed, p) for p in NEW_USERS])
    if kind.borrows:
        return dict(borrowed=layout.manifest(kind.borrows, seed))
    if entry["scope"] == "all":
        return dict(units=[layout.unit_dir(method, seed, layout.ALL)])
    if entry["scope"] == "persona":
        return dict(units=[layout.unit_dir(method, seed, p) for p in PERSONAS])
    return dict(
        units=cluster_dirs(method, wildcards),
        assignments=CLUSTERS.assignments_file(wildcards),
    )


rule adapter_manifest:
    input:
        unpack(manifest_sources),
    output:
        "models/{method}/seed{seed}/{population}.json",
    log:
        "logs/adapter_manifest/{method}/seed{seed}_{population}.log",
    benchmark:
        "results/benchmarks/adapter_manifest/{method}/seed{seed}_{population}.tsv"
    wildcard_constraints:
        population="adapters|new_users",
    # In the Snakemake process (reads train_log.json files): no interpreter start per manifest.
    localrule: True
    threads: 1
    params:
        merge=lambda wc: (
            layout.unit_dir("unified", wc.seed, layout.ALL)
            if on_unified(wc.method)
            else ""
        ),
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
