# Merges of persona LoRAs in weight-update space (never A and B averaged separately), on CPU:
# merge_neighbors = per persona, its K most similar OTHER personas' LoRAs (similarity of the
# clustering features; a pack of personas per job); merge_cluster = per cluster, its members' LoRAs
# (a pack of clusters per job).
# Uniform weights; the total weight is chosen among merge.weight_scales by the lowest VAL loss
# (adaptcommand.merging).
import json

MERGE_PARAMS = dict(
    scales=config["merge"]["weight_scales"],
    combination=config["merge"]["combination"],
    batch_size=config["train"]["persona"]["batch_size"],
)
NEIGHBORS_K = config["merge"]["neighbors_k"]
# Keyed, so that a change of one value is seen (Snakemake compares params as a set of values).
MERGE_SETTINGS = json.dumps({**MERGE_PARAMS, **prompt_params()}, sort_keys=True)
# The params both merge rules share.
MERGE_RULE_PARAMS = dict(
    **MERGE_PARAMS,
    **prompt_params(),
    code=script_hash("merge_adapters.py"),
    base=base_model_param(),
    settings=MERGE_SETTINGS,
)


# {persona_id: its persona LoRA directory} once every pack is trained: what the merges read.
rule persona_adapters_manifest:
    input:
        packs=expand("models/persona/{pack}", pack=PACKS),
    output:
        "models/persona/adapters.json",
    log:
        "logs/persona_adapters_manifest.log",
    benchmark:
        "results/benchmarks/persona_adapters_manifest.tsv"
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        code=script_hash("adapter_manifest.py"),
        adapters=json.dumps(persona_adapters("models/persona"), sort_keys=True),
    script:
        "../workflow/scripts/adapter_manifest.py"


rule merge_neighbors:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        # Plain inputs, not a checkpoint lookup: the job is planned (also in a dry run) before the
        # clustering has run; the script picks the K nearest other personas from this file, and
        # their adapters from the manifest (one input, not one per persona: a DAG of 200 x 200 edges
        # took most of the full-size plan).
        similarity="results/clusters/similarity.json",
        adapters="models/persona/adapters.json",
    output:
        directory("models/merge/neighbors/{pack}"),
    log:
        "logs/merge_neighbors/{pack}.log",
    benchmark:
        "results/benchmarks/merge_neighbors/{pack}.tsv"
    conda:
        "../envs/train.yaml"
    threads: RES["threads"]
    resources:
        **model_cpu_resources(),
    params:
        **MERGE_RULE_PARAMS,
        neighbors_k=NEIGHBORS_K,
        pack=pack_members,
    script:
        "../workflow/scripts/merge_adapters.py"


rule merge_cluster:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        assignments=CLUSTERS.assignments_file,
        adapters="models/persona/adapters.json",
    output:
        directory("models/merge/cluster/{cluster_pack}"),
    log:
        "logs/merge_cluster/{cluster_pack}.log",
    benchmark:
        "results/benchmarks/merge_cluster/{cluster_pack}.tsv"
    conda:
        "../envs/train.yaml"
    threads: RES["threads"]
    resources:
        **model_cpu_resources(),
    params:
        **MERGE_RULE_PARAMS,
        clusters=CLUSTERS.pack_param,
    script:
        "../workflow/scripts/merge_adapters.py"


# Their cost includes the persona LoRAs they are made of.
register_method(
    "merge_neighbors",
    lambda: persona_adapters("models/merge/neighbors"),
    train_benchmarks=lambda: [
        "results/benchmarks/cluster_personas.tsv",
        *pack_benchmarks("train_persona"),
        *pack_benchmarks("merge_neighbors"),
    ],
)
register_method(
    "merge_cluster",
    CLUSTERS.routes("models/merge/cluster/{cluster_pack}/{cluster_id}", PERSONAS),
    train_benchmarks=CLUSTERS.benchmarks(
        "results/benchmarks/merge_cluster/{cluster_pack}.tsv",
        extra=[CLUSTER_BENCHMARK, *pack_benchmarks("train_persona")],
    ),
)
