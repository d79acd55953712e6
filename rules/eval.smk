# One evaluation protocol for every method: the same targets, prompts, greedy decoding and metrics.


rule eval_targets:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
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
        personas=PERSONAS,
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
        code=script_hash("evaluate.py"),
        routes=routes_param,
        merge=merge_param,
    script:
        "../workflow/scripts/evaluate.py"
