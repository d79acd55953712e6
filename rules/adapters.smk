# One manifest per method with adapters, models/<method>/adapters.json: which adapter directory serves
# which known persona, with each unit's recipe, seed and what was selected on val (adaptcommand.adapters).
# Evaluation, method cards, merges and chat find adapters through it and nothing else. A method that
# serves new users with adapters chosen for them has models/<method>/new_users.json too.


def manifest_sources(wildcards):
    """The adapter directories (or the manifest) a method's manifest is made from."""
    method = wildcards.method
    entry, kind = METHOD_TABLE[method], kind_of(METHOD_TABLE[method])
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
        layout.manifest("{method}"),
    log:
        "logs/adapter_manifest/{method}.log",
    benchmark:
        "results/benchmarks/adapter_manifest/{method}.tsv"
    # In the Snakemake process (reads train_log.json files): no interpreter start per manifest.
    localrule: True
    threads: 1
    params:
        merge=lambda wc: UNIFIED if on_unified(wc.method) else "",
    run:
        from adaptcommand.adapters import method_manifest

        doc = method_manifest(
            output[0],
            wildcards.method,
            METHOD_TABLE[wildcards.method],
            PERSONAS,
            units=input.get("units", []),
            assignments=input.get("assignments"),
            borrowed=input.get("borrowed"),
            merge=params.merge,
        )
        Path(log[0]).write_text(f"{len(doc['units'])} adapters\n")


def new_user_manifest_sources(wildcards):
    method = wildcards.method
    if METHOD_TABLE[method]["cold_start"] == "nearest_cluster":
        return dict(
            known=layout.manifest(method),
            assignments="results/cold_start/assignments.json",
        )
    return dict(units=[layout.unit_dir(method, p) for p in NEW_USERS])


rule new_user_manifest:
    input:
        unpack(new_user_manifest_sources),
    output:
        layout.new_user_manifest("{method}"),
    log:
        "logs/new_user_manifest/{method}.log",
    benchmark:
        "results/benchmarks/new_user_manifest/{method}.tsv"
    localrule: True
    threads: 1
    run:
        from adaptcommand.adapters import new_user_manifest

        doc = new_user_manifest(
            output[0],
            wildcards.method,
            METHOD_TABLE[wildcards.method],
            NEW_USERS,
            units=input.get("units", []),
            known=input.get("known"),
            assignments=input.get("assignments"),
        )
        Path(log[0]).write_text(
            f"{len(doc['units'])} adapters for {len(NEW_USERS)} new users\n"
        )
