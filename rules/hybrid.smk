# Hybrid (OPPU-style): one small LoRA per persona, trained on top of the frozen unified model
# (models/unified merged into the base first); the epoch is chosen on the persona's val split.
# Trained a pack of personas per job, like train_persona.


rule train_hybrid:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        unified="models/unified",
    output:
        directory("models/hybrid/{pack}"),
    log:
        "logs/train_hybrid/{pack}.log",
    benchmark:
        "results/benchmarks/train_hybrid/{pack}.tsv"
    conda:
        "../envs/train.yaml"
    threads: RES["threads"]
    resources:
        **gpu_resources("train_runtime_min"),
    params:
        **lora_params("hybrid"),
        **prompt_params(),
        code=script_hash("train_lora.py"),
        base=base_model_param(),
        merge=lambda wildcards, input: input.unified,
        pack=pack_members,
    script:
        "../workflow/scripts/train_lora.py"


# Its cost includes the unified training it builds on.
register_method(
    "hybrid",
    lambda: persona_adapters("models/hybrid"),
    merge="models/unified",
    train_benchmarks=lambda: ["results/benchmarks/train_unified.tsv"]
    + pack_benchmarks("train_hybrid"),
)
