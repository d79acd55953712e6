# Personas grouped by behaviour (train split only) or character text, per seed (k-means starts from
# it); k may be chosen by silhouette, so the clustering is a checkpoint: which per-cluster jobs exist
# is read from it (CLUSTERS in rules/common.smk: adaptcommand.clusters.ClusterCheckpoint).


checkpoint cluster_personas:
    input:
        dialogs=layout.CLEAN,
        splits=learned("splits"),
    output:
        assignments=layout.clustering("{seed}", "assignments.json"),
        silhouette=layout.clustering("{seed}", "silhouette.csv"),
        similarity=layout.clustering("{seed}", "similarity.json"),
    log:
        layout.log("cluster_personas", "seed{seed}"),
    benchmark:
        layout.benchmark("cluster_personas", "seed{seed}")
    conda:
        "../envs/eval.yaml"
    threads: RES["threads"]
    params:
        clustering=plain(config["cluster"]),
        seed=lambda wc: layout.seed_number(wc.seed),
        minilm=config["metrics"]["minilm"],
        code=script_hash("cluster_personas.py"),
        personas=PERSONAS,
    script:
        "../workflow/scripts/cluster_personas.py"
