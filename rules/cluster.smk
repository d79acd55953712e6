# Personas grouped by behaviour (train split only) or character text; one LoRA per cluster, and prefix
# tuning per cluster on the base and on the merged unified model. k may be chosen from the data
# (silhouette), so the clustering is a checkpoint; everything per cluster is read from its output
# through adaptcommand.clusters.ClusterCheckpoint (the logic lives in the tested library).
import json

from adaptcommand.clusters import ClusterCheckpoint

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
        **CLUSTERING,
        code=script_hash("cluster_personas.py"),
        personas=PERSONAS,
        settings=json.dumps(CLUSTERING, sort_keys=True),
    script:
        "../workflow/scripts/cluster_personas.py"


CLUSTERS = ClusterCheckpoint(checkpoints.cluster_personas)
# {persona_id: cluster_id like "c0"} and the sorted cluster ids, read from the checkpoint's output.
cluster_assignment = CLUSTERS.assignment
cluster_ids = CLUSTERS.ids


rule train_cluster:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        assignments=CLUSTERS.assignments_file,
    output:
        directory("models/cluster/{cluster_id}"),
    log:
        "logs/train_cluster/{cluster_id}.log",
    benchmark:
        "results/benchmarks/train_cluster/{cluster_id}.tsv"
    conda:
        "../envs/train.yaml"
    threads: RES["threads"]
    resources:
        **gpu_resources("train_runtime_min"),
    params:
        **lora_params("cluster"),
        **prompt_params(),
        code=script_hash("train_lora.py"),
        base=base_model_param(),
        personas=CLUSTERS.members_param,
    script:
        "../workflow/scripts/train_lora.py"


rule train_prefix_cluster:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        assignments=CLUSTERS.assignments_file,
    output:
        directory("models/prefix/base/cluster/{cluster_id}"),
    log:
        "logs/train_prefix_cluster/{cluster_id}.log",
    benchmark:
        "results/benchmarks/train_prefix_cluster/{cluster_id}.tsv"
    conda:
        "../envs/train.yaml"
    threads: RES["threads"]
    resources:
        **gpu_resources("train_runtime_min"),
    params:
        **prefix_params(),
        **prompt_params(),
        code=script_hash("train_lora.py"),
        base=base_model_param(),
        personas=CLUSTERS.members_param,
    script:
        "../workflow/scripts/train_lora.py"


rule train_prefix_unified_cluster:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        merge="models/unified",
        assignments=CLUSTERS.assignments_file,
    output:
        directory("models/prefix/unified/cluster/{cluster_id}"),
    log:
        "logs/train_prefix_unified_cluster/{cluster_id}.log",
    benchmark:
        "results/benchmarks/train_prefix_unified_cluster/{cluster_id}.tsv"
    conda:
        "../envs/train.yaml"
    threads: RES["threads"]
    resources:
        **gpu_resources("train_runtime_min"),
    params:
        **prefix_params(),
        **prompt_params(),
        code=script_hash("train_lora.py"),
        base=base_model_param(),
        merge=lambda wildcards, input: input.merge,
        personas=CLUSTERS.members_param,
    script:
        "../workflow/scripts/train_lora.py"


# Every cluster is trained; each persona is routed to its cluster's adapter.
register_method(
    "cluster",
    CLUSTERS.routes("models/cluster/{cluster_id}", PERSONAS),
    train_benchmarks=CLUSTERS.benchmarks(
        "results/benchmarks/train_cluster/{cluster_id}.tsv"
    ),
)
register_method(
    "prefix_cluster",
    CLUSTERS.routes("models/prefix/base/cluster/{cluster_id}", PERSONAS),
    train_benchmarks=CLUSTERS.benchmarks(
        "results/benchmarks/train_prefix_cluster/{cluster_id}.tsv"
    ),
)
# Its cost includes the unified training it builds on.
register_method(
    "prefix_unified_cluster",
    CLUSTERS.routes("models/prefix/unified/cluster/{cluster_id}", PERSONAS),
    merge="models/unified",
    train_benchmarks=CLUSTERS.benchmarks(
        "results/benchmarks/train_prefix_unified_cluster/{cluster_id}.tsv",
        extra=["results/benchmarks/train_unified.tsv"],
    ),
)
