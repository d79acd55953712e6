# Per-persona adapters, written once for every method of the table with scope persona whose adapter
# is a LoRA or a prefix: persona, hybrid (OPPU-style, on the frozen unified model), prefix_persona,
# prefix_unified_persona, and the config's variants of persona. Rule train_<method>; the epoch is
# chosen on each persona's val split; a pack of personas per job (resources.pack_size):
# <model_dir>/<pack>/<persona_id>/.


for _method in trained_methods("persona"):

    rule:
        name:
            f"train_{_method}"
        input:
            **train_inputs(_method),
        output:
            directory(f"{model_dir(_method)}/{{pack}}"),
        log:
            f"logs/train_{_method}/{{pack}}.log",
        benchmark:
            f"results/benchmarks/train_{_method}/{{pack}}.tsv"
        # Behind every per-persona evaluation, both merges and routing: start persona early.
        priority: 5 if _method == "persona" else 0
        conda:
            "../envs/train.yaml"
        threads: RES["threads"]
        resources:
            **gpu_resources("train_runtime_min"),
        params:
            **train_params(_method),
            **pack_params(),
        script:
            "../workflow/scripts/train_lora.py"

    register_method(
        _method,
        lambda m=_method: persona_adapters(model_dir(m)),
        merge="models/unified" if on_unified(_method) else "",
        train_benchmarks=lambda m=_method: start_benchmarks(m)
        + pack_benchmarks(f"train_{m}"),
    )


# Negative control: every persona evaluated with the NEXT persona's adapter (a fixed derangement of
# the persona list). Another user's habits must not beat the base on that user's routine turns.
register_method(
    "persona_swapped",
    lambda: persona_adapters(
        "models/persona", of=lambda p: PERSONAS[(PERSONAS.index(p) + 1) % len(PERSONAS)]
    ),
    train_benchmarks=lambda: pack_benchmarks("train_persona"),
)
