# Personas grouped by behaviour (train split only) or character text, per seed (k-means starts from
# it); k may be chosen by silhouette, so the clustering is a checkpoint: which per-cluster jobs exist
# is read from it (adaptcommand.clusters.ClusterCheckpoint).
from adaptcommand.clusters import ClusterCheckpoint


checkpoint cluster_personas:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
    output:
        assignments="results/clusters/seed{seed}/assignments.json",
        silhouette="results/clusters/seed{seed}/silhouette.csv",
        similarity="results/clusters/seed{seed}/similarity.json",
    log:
        "logs/cluster_personas/seed{seed}.log",
    benchmark:
        "results/benchmarks/cluster_personas/seed{seed}.tsv"
    conda:
        "../envs/eval.yaml"
    threads: RES["threads"]
    params:
        clustering=plain(config["cluster"]),
        seed=lambda wc: int(wc.seed),
        minilm=config["metrics"]["minilm"],
        code=script_hash("cluster_personas.py"),
        personas=PERSONAS,
    script:
        "../workflow/scripts/cluster_personas.py"


CLUSTERS = ClusterCheckpoint(checkpoints.cluster_personas)
