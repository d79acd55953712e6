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
    threads: RES["threads"]
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


# Named variants of this method (config `variants: {name: {of: persona, train: {...}}}`): the same
# rule with the variant's recipe, models/<variant>/<pack>/<persona_id>/.
if PERSONA_VARIANTS:

    use rule train_persona as train_persona_variant with:
        output:
            directory("models/{variant}/{pack}"),
        log:
            "logs/train_persona_variant/{variant}/{pack}.log",
        benchmark:
            "results/benchmarks/train_persona_variant/{variant}/{pack}.tsv"
        params:
            **variant_params(lora_params),
            **prompt_params(),
            code=script_hash("train_lora.py"),
            base=base_model_param(),
            pack=pack_members,


for _variant in PERSONA_VARIANTS:
    register_method(
        _variant,
        lambda v=_variant: persona_adapters(f"models/{v}"),
        train_benchmarks=lambda v=_variant: [
            f"results/benchmarks/train_persona_variant/{v}/{pack}.tsv" for pack in PACKS
        ],
    )
