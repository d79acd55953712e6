# One LoRA on every evaluated persona's train split; the epoch is chosen on their val split.


rule train_unified:
    input:
        **train_inputs("unified"),
    output:
        directory("models/unified"),
    log:
        "logs/train_unified.log",
    benchmark:
        "results/benchmarks/train_unified.tsv"
    # On the critical path (hybrid, prefix on unified, routing wait for it): start it first.
    priority: 10
    conda:
        "../envs/train.yaml"
    threads: RES["threads"]
    resources:
        **gpu_resources("unified_runtime_min"),
    params:
        **train_params("unified"),
        personas=PERSONAS,
    script:
        "../workflow/scripts/train_lora.py"
