# New users (personas.cold_start): held out of everything that learns, evaluated on their test split
# by the methods that can serve them (table field cold_start). Per seed, each new user's nearest cluster
# and known personas by character text; their merges: rules/merge.smk; their merge-then-adapt training
# (cold_start adapt): rules/train.smk; who serves them: models/<method>/seed<s>/new_users.json.


rule assign_new_users:
    input:
        dialogs=layout.CLEAN,
        characters=layout.NEW_CHARACTERS,
        assignments=layout.clustering("{seed}", "assignments.json"),
    output:
        assignments=layout.new_user_assignment("{seed}", "assignments.json"),
        similarity=layout.new_user_assignment("{seed}", "similarity.json"),
    log:
        layout.log("assign_new_users", "seed{seed}"),
    benchmark:
        layout.benchmark("assign_new_users", "seed{seed}")
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        code=script_hash("assign_new_users.py"),
        personas=PERSONAS,
        minilm=config["metrics"]["minilm"],
    script:
        "../workflow/scripts/assign_new_users.py"
