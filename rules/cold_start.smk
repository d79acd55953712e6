# New users (personas.cold_start): the last personas of the dataset, held out of everything that
# learns from users, evaluated on their test split (evaluation set cold_start) by every method of
# eval.methods that can serve a user it was not trained on (workflow/methods.yaml, field cold_start):
#   same:              the one adapter every known persona gets (base, unified, history: the history
#                      LoRA with exchanges of the user's first history.cold_start_sessions sessions);
#   nearest_cluster:   the adapter of the cluster closest to the user's character text;
#   nearest_personas:  a merge of the LoRAs of the merge.neighbors_k known personas closest to the
#                      user's character text, its total weight chosen on the val split of the next
#                      neighbors_k closest known personas (never on the new user).
# What is known of a new user: the character text (data/cold_start/characters.json). Per seed (the
# clusters are the seed's). Their merges:
# rules/merge.smk; which adapters serve them: models/<method>/new_users.json (rules/adapters.smk).


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
