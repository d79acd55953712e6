# One LoRA per persona from the base model, on that persona's train split; epoch chosen on its val.


rule train_persona:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        code=script_file("train_lora.py"),
    output:
        directory("models/persona/{persona_id}"),
    log:
        "logs/train_persona/{persona_id}.log",
    benchmark:
        "results/benchmarks/train_persona/{persona_id}.tsv"
    conda:
        "../envs/train.yaml"
    threads: RES.get("threads", 2)
    resources:
        **gpu_resources("train_runtime_min"),
    params:
        **lora_params("persona"),
        **prompt_params(),
        base=base_model_param(),
        personas="{persona_id}",
    script:
        "../workflow/scripts/train_lora.py"
