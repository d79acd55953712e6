# One evaluation protocol for every method: the same targets, prompts, greedy decoding and metrics.
# Evaluation sets ({split}): val and test of the known personas, and cold_start, the new users' test
# split (common.smk eval_data).


rule eval_targets:
    input:
        unpack(eval_data),
    output:
        "results/eval/{split}/targets.jsonl",
    log:
        "logs/eval_targets/{split}.log",
    benchmark:
        "results/benchmarks/eval_targets/{split}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        code=script_hash("eval_targets.py"),
        personas=eval_personas,
        data_split=data_split,
        skip_assistant_turns=config["eval"]["skip_assistant_turns"],
        context_messages=config["prompt"]["context_messages"],
    script:
        "../workflow/scripts/eval_targets.py"


# The scored methods that generate their own predictions (routing composes its from its candidates').
GENERATED = [m for m in SCORED if METHOD_TABLE[m]["adapter"] != "routing"]


rule evaluate:
    input:
        unpack(eval_inputs),
    output:
        predictions="results/eval/{split}/{method}/predictions.jsonl",
        per_persona="results/eval/{split}/{method}/per_persona.csv",
        metrics="results/eval/{split}/{method}/metrics.json",
    log:
        "logs/evaluate/{split}_{method}.log",
    benchmark:
        "results/benchmarks/evaluate/{split}_{method}.tsv"
    wildcard_constraints:
        method="|".join(GENERATED),
    conda:
        "../envs/eval.yaml"
    threads: RES["threads"]
    resources:
        **gpu_resources("eval_runtime_min"),
    params:
        **prompt_params(),
        **eval_params(),
        base=config["model"]["base"],
        method="{method}",
        data_split=data_split,
        code=script_hash("evaluate.py"),
        routes=routes_param,
        merge=merge_param,
    script:
        "../workflow/scripts/evaluate.py"


# Method cards: what `adaptcommand chat` loads to talk to a method as one persona (the base, the
# adapter merged into it, each persona's adapter, new users included where the method serves them,
# the prompt and generation settings, where history is retrieved from). A card's inputs are the
# method's models, so `snakemake results/methods/<method>.json` builds what chatting needs.
rule method_card:
    input:
        unpack(card_inputs),
    output:
        "results/methods/{method}.json",
    log:
        "logs/method_card/{method}.log",
    benchmark:
        "results/benchmarks/method_card/{method}.tsv"
    # In the Snakemake process (a JSON file from the params): no interpreter start per card.
    localrule: True
    threads: 1
    params:
        card=card_param,
    run:
        from adaptcommand.chat import write_card

        write_card(output[0], params.card, input.get("choices"), log[0])
