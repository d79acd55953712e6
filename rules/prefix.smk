# Prefix tuning per persona (config train.prefix): learned virtual key/value tokens in front of a
# frozen model, either the base (prefix_persona) or the base with the unified LoRA merged in
# (prefix_unified_persona). The epoch is chosen on the persona's val split; a pack of personas per
# job. Cluster-scope prefixes live in rules/cluster.smk.


rule train_prefix_persona:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
    output:
        directory("models/prefix/base/persona/{pack}"),
    log:
        "logs/train_prefix_persona/{pack}.log",
    benchmark:
        "results/benchmarks/train_prefix_persona/{pack}.tsv"
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
        pack=pack_members,
    script:
        "../workflow/scripts/train_lora.py"


rule train_prefix_unified_persona:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        unified="models/unified",
    output:
        directory("models/prefix/unified/persona/{pack}"),
    log:
        "logs/train_prefix_unified_persona/{pack}.log",
    benchmark:
        "results/benchmarks/train_prefix_unified_persona/{pack}.tsv"
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
        merge=lambda wildcards, input: input.unified,
        pack=pack_members,
    script:
        "../workflow/scripts/train_lora.py"


register_method(
    "prefix_persona",
    lambda: persona_adapters("models/prefix/base/persona"),
    train_benchmarks=lambda: pack_benchmarks("train_prefix_persona"),
)
# Its cost includes the unified training it builds on.
register_method(
    "prefix_unified_persona",
    lambda: persona_adapters("models/prefix/unified/persona"),
    merge="models/unified",
    train_benchmarks=lambda: ["results/benchmarks/train_unified.tsv"]
    + pack_benchmarks("train_prefix_unified_persona"),
)
