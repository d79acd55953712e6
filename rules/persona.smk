# One LoRA per persona from the base model, on that persona's train split; epoch chosen on its val.
# Trained a pack of personas per job (resources.pack_size); each persona's adapter is its own target.


rule train_persona:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        code=script_file("train_lora.py"),
    output:
        directory("models/packs/persona/{pack}"),
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
        base=base_model_param(),
        pack=pack_members,
    script:
        "../workflow/scripts/train_lora.py"


# models/<kind>/<persona_id>: the persona's adapter, hard-linked out of the pack that trained it
# (no copy of the weights; a re-trained pack gives new files, so the link never sees a change in place).
rule persona_adapter:
    input:
        pack=lambda wc: f"models/packs/{wc.kind}/{PACK_OF[wc.persona_id]}",
    output:
        directory("models/{kind}/{persona_id}"),
    log:
        "logs/persona_adapter/{kind}/{persona_id}.log",
    benchmark:
        "results/benchmarks/persona_adapter/{kind}/{persona_id}.tsv"
    wildcard_constraints:
        kind="persona|hybrid|prefix/base/persona|prefix/unified/persona|merge/neighbors",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        source=lambda wc, input: f"{input.pack}/{wc.persona_id}",
    shell:
        "cp -rl {params.source} {output} 2> {log}"
