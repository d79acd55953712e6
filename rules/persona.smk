# One LoRA per persona from the base model, on that persona's train split; epoch chosen on its val.


rule train_persona:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        code=script("train_lora.py"),
    output:
        directory("models/persona/{persona_id}"),
    params:
        base=config["model"]["base"],
        personas="{persona_id}",
        **lora_params("persona"),
        **prompt_params(),
    log:
        "logs/train_persona/{persona_id}.log",
    benchmark:
        "results/benchmarks/train_persona/{persona_id}.tsv"
    threads: RES.get("threads", 2)
    resources:
        **gpu_resources("train_runtime_min"),
    script:
        "../workflow/scripts/train_lora.py"
