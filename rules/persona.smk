# One LoRA per persona from the base model, on that persona's train split; epoch chosen on its val.
# Trained a pack of personas per job (resources.pack_size): models/persona/<pack>/<persona_id>/.


rule train_persona:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
    output:
        directory("models/persona/{pack}"),
    log:
        "logs/train_persona/{pack}.log",
    benchmark:
        "results/benchmarks/train_persona/{pack}.tsv"
    # Behind every per-persona evaluation, both merges and routing: start it early.
    priority: 5
    conda:
        "../envs/train.yaml"
    threads: RES.get("threads", 2)
    resources:
        **gpu_resources("train_runtime_min"),
    params:
        **lora_params("persona"),
        **prompt_params(),
        code=script_hash("train_lora.py"),
        base=base_model_param(),
        pack=pack_members,
    script:
        "../workflow/scripts/train_lora.py"
