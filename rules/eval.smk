# One evaluation protocol for every method: the same targets, prompts, greedy decoding and metrics, on
# val / test of the known personas and cold_start, the new users' test split (common.smk eval_data).


rule eval_targets:
    input:
        unpack(eval_data),
    output:
        layout.targets("{split}"),
    log:
        layout.log("eval_targets", "{split}"),
    benchmark:
        layout.benchmark("eval_targets", "{split}")
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
GENERATED = [m for m in SCORED if kind_of(METHOD_TABLE[m]).generates]
# What every evaluation job passes to the harness, besides its members ({method: manifest, history}).
EVAL_PARAMS = dict(
    prompt=PROMPT,
    generation=GENERATION,
    scoring=SCORING,
    base=base_model_param(),
    personas=eval_personas,
    data_split=data_split,
    code=script_hash("evaluate.py"),
)


rule evaluate:
    input:
        unpack(eval_data),
        targets=layout.targets("{split}"),
        base=base_model_input(),
        manifest=manifest_inputs,
        history=history_inputs,
    output:
        **layout.eval_files("{split}", "{method}", "{run}"),
    log:
        layout.log("evaluate", "{split}_{method}", "{run}"),
    benchmark:
        layout.benchmark("evaluate", "{split}_{method}", "{run}")
    wildcard_constraints:
        method="|".join(GENERATED),
    conda:
        "../envs/eval.yaml"
    threads: RES["threads"]
    resources:
        **scheduling.gpu_resources(RES, "eval_runtime_min"),
    params:
        **EVAL_PARAMS,
        members=lambda wc: EXPERIMENT.eval_members([wc.method], wc.split, wc.run),
    script:
        "../workflow/scripts/evaluate.py"


# resources.eval_pack_size: per split and seed, a job evaluates a pack of the split's learned methods
# (EVAL_PACKS) one after another into their own files; rule evaluate makes the rest (base, variants).
for _split, _chunks in EVAL_PACKS.items():
    for _label, _members in _chunks.items():

        rule:
            name:
                f"evaluate_pack.{_split}.{_label}"
            input:
                unpack(pack_inputs(_members)),
            output:
                [
                    f
                    for m in _members
                    for f in layout.eval_files("{split}", m, "seed{seed}").values()
                ],
            log:
                layout.log("evaluate_pack", "{split}", "seed{seed}", _label),
            benchmark:
                layout.benchmark("evaluate_pack", "{split}", "seed{seed}", _label)
            wildcard_constraints:
                split=_split,
            conda:
                "../envs/eval.yaml"
            threads: RES["threads"]
            resources:
                **scheduling.gpu_resources(RES, "eval_runtime_min", len(_members)),
            params:
                **EVAL_PARAMS,
                members=lambda wc, _m=_members: EXPERIMENT.eval_members(
                    _m, wc.split, f"seed{wc.seed}"
                ),
            script:
                "../workflow/scripts/evaluate.py"

        # (the ruleorder directive takes plain names only; a pack's has dots)
        workflow.ruleorder(f"evaluate_pack.{_split}.{_label}", "evaluate")


# Method cards, results/methods/<method>/<run>.json: what `adaptcommand chat` loads (adaptcommand.chat.card);
# their inputs are the run's manifests, so building a card builds what chatting needs.
rule method_card:
    input:
        unpack(card_inputs),
    output:
        layout.card("{method}", "{run}"),
    log:
        layout.log("method_card", "{method}", "{run}"),
    benchmark:
        layout.benchmark("method_card", "{method}", "{run}")
    # On the submitting host (one JSON file from the params).
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        card=card_param,
        code=script_hash("method_card.py"),
    script:
        "../workflow/scripts/method_card.py"
