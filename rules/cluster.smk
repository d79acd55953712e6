# Personas grouped by behaviour (train split only) or character text. k may be chosen from the data
# (silhouette), so the clustering is a checkpoint: which per-cluster jobs exist (train_<method> in
# rules/train.smk, merge_cluster) is read from its output through adaptcommand.clusters.ClusterCheckpoint.
from adaptcommand.clusters import ClusterCheckpoint


checkpoint cluster_personas:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
    output:
        assignments="results/clusters/assignments.json",
        silhouette="results/clusters/silhouette.csv",
        similarity="results/clusters/similarity.json",
    log:
        "logs/cluster_personas.log",
    benchmark:
        "results/benchmarks/cluster_personas.tsv"
    conda:
        "../envs/eval.yaml"
    threads: RES["threads"]
    params:
        clustering=plain(
            {
                k: config["cluster"][k]
                for k in ("features", "k", "k_min", "k_max", "seed")
            }
        ),
        minilm=config["metrics"]["minilm"],
        code=script_hash("cluster_personas.py"),
        personas=PERSONAS,
    script:
        "../workflow/scripts/cluster_personas.py"


CLUSTERS = ClusterCheckpoint(checkpoints.cluster_personas)


def cluster_dirs(method):
    """The adapter directories of every cluster of per-cluster `method` (after the checkpoint)."""
    return [layout.unit_dir(method, c) for c in CLUSTERS.ids()]
