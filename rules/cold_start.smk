# New users (personas.cold_start): held out of everything that learns, evaluated on their test split
# by the methods that can serve them (table field cold_start; adaptcommand.personas says how). Per
# seed, each new user's nearest cluster and known personas by character text; their merges are in
# rules/merge.smk, which adapters serve them in models/<method>/seed<s>/new_users.json.


rule assign_new_users:
    input:
        dialogs=CLEAN,
        characters=NEW_CHARACTERS,
        assignments="results/clusters/seed{seed}/assignments.json",
    output:
        assignments="results/cold_start/seed{seed}/assignments.json",
        similarity="results/cold_start/seed{seed}/similarity.json",
    log:
        "logs/assign_new_users/seed{seed}.log",
    benchmark:
        "results/benchmarks/assign_new_users/seed{seed}.tsv"
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        code=script_hash("assign_new_users.py"),
        personas=PERSONAS,
        minilm=config["metrics"]["minilm"],
    script:
        "../workflow/scripts/assign_new_users.py"
