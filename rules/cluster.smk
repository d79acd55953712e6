# Personas grouped by behaviour (train split only) or character text; one LoRA per cluster, and prefix
# tuning per cluster on the base and on the merged unified model. k may be chosen from the data
# (silhouette), so the clustering is a checkpoint; everything per cluster is read from its output
# through adaptcommand.clusters.ClusterCheckpoint (the logic lives in the tested library).
import json

from adaptcommand.clusters import ClusterCheckpoint, ClusterPacks

# Snakemake compares a job's params as a SET of values, without their names: with k=0, k_min=2,
# k_max=4, seed=0, changing k to 2 leaves the set {0, 2, 4} as it was and nothing would re-run. Every
# rule here therefore also gets `settings`, its recipe as one keyed JSON string.
CLUSTERING = dict(
    features=config["cluster"]["features"],
    k=config["cluster"]["k"],
    k_min=config["cluster"]["k_min"],
    k_max=config["cluster"]["k_max"],
    seed=config["cluster"]["seed"],
    minilm=config["metrics"]["minilm"],
)


wildcard_constraints:
    cluster_id=r"c\d+",
    cluster_pack=r"c\d+(-c\d+)?",


# Part of the cost of every method that needs the clusters.
CLUSTER_BENCHMARK = "results/benchmarks/cluster_personas.tsv"


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
        CLUSTER_BENCHMARK
    conda:
        "../envs/eval.yaml"
    threads: RES["threads"]
    params:
        **CLUSTERING,
        code=script_hash("cluster_personas.py"),
        personas=PERSONAS,
        settings=json.dumps(CLUSTERING, sort_keys=True),
    script:
        "../workflow/scripts/cluster_personas.py"


# Per-cluster adapters and merges are made in packs, as the per-persona ones: one job per
# `resources.pack_size` consecutive cluster ids (0 = all), <model_dir>/<cluster_pack>/<cluster_id>/
# (e.g. models/cluster/c0-c3/c2/; a pack of one: models/cluster/c2/c2/). Pack names follow from the
# config (ids below cluster.k, or k_max when k is chosen), the members of each from the checkpoint.
CLUSTER_PACKS = ClusterPacks(
    RES["pack_size"], config["cluster"]["k"] or config["cluster"]["k_max"]
)
CLUSTERS = ClusterCheckpoint(checkpoints.cluster_personas, CLUSTER_PACKS)
# {persona_id: cluster_id like "c0"} and the sorted cluster ids, read from the checkpoint's output.
cluster_assignment = CLUSTERS.assignment
cluster_ids = CLUSTERS.ids


# Per-cluster adapters, written once for every method of the table with scope cluster whose adapter
# is a LoRA or a prefix: cluster, prefix_cluster, prefix_unified_cluster. Rule train_<method>: per
# cluster of its pack, one adapter on the cluster's members' train dialogues,
# <model_dir>/<cluster_pack>/<cluster_id>/; every persona is routed to its cluster's adapter.
for _method in trained_methods("cluster"):

    rule:
        name:
            f"train_{_method}"
        input:
            **train_inputs(_method),
            assignments=CLUSTERS.assignments_file,
        output:
            directory(f"{model_dir(_method)}/{{cluster_pack}}"),
        log:
            f"logs/train_{_method}/{{cluster_pack}}.log",
        benchmark:
            f"results/benchmarks/train_{_method}/{{cluster_pack}}.tsv"
        conda:
            "../envs/train.yaml"
        threads: RES["threads"]
        resources:
            **gpu_resources("train_runtime_min"),
        params:
            **train_params(_method),
            units=CLUSTERS.pack_param,
        script:
            "../workflow/scripts/train_lora.py"

    register_method(
        _method,
        CLUSTERS.routes(
            f"{model_dir(_method)}/{{cluster_pack}}/{{cluster_id}}", PERSONAS
        ),
        merge="models/unified" if on_unified(_method) else "",
        train_benchmarks=CLUSTERS.benchmarks(
            f"results/benchmarks/train_{_method}/{{cluster_pack}}.tsv",
            extra=[CLUSTER_BENCHMARK, *start_benchmarks(_method)],
        ),
    )
