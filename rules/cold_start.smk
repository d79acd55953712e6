# New users (personas.cold_start): the last personas of the dataset, held out of everything that
# learns from users, evaluated on their test split (evaluation set cold_start) by every method of
# eval.methods that can serve a user it was not trained on (workflow/methods.yaml, field cold_start):
#   same:              the one adapter every known persona gets (base, unified, history: the history
#                      LoRA with exchanges of the user's first history.cold_start_sessions sessions);
#   nearest_cluster:   the adapter of the cluster closest to the user's character text;
#   nearest_personas:  a merge of the LoRAs of the merge.neighbors_k known personas closest to the
#                      user's character text, its total weight chosen on the val split of the next
#                      neighbors_k closest known personas (never on the new user).
# What is known of a new user: the character text (data/cold_start/characters.json). Which adapters
# serve them: models/<method>/new_users.json (rules/adapters.smk).


rule assign_new_users:
    input:
        dialogs=CLEAN,
        characters=NEW_CHARACTERS,
        assignments="results/clusters/assignments.json",
    output:
        assignments="results/cold_start/assignments.json",
        similarity="results/cold_start/similarity.json",
    log:
        "logs/assign_new_users.log",
    benchmark:
        "results/benchmarks/assign_new_users.tsv"
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        code=script_hash("assign_new_users.py"),
        personas=PERSONAS,
        minilm=config["metrics"]["minilm"],
    script:
        "../workflow/scripts/assign_new_users.py"


# The new users' merges, models/<method>/<new user>/, in packs as the known personas' (rules/merge.smk).
for _method in [
    m for m in MERGED if METHOD_TABLE[m]["cold_start"] == "nearest_personas"
]:
    for _pack, _members in NEW_USER_PACKS.items():

        rule:
            name:
                f"{_method}_new_users.{_pack}"
            input:
                **MERGE_INPUTS,
                similarity="results/cold_start/similarity.json",
            output:
                [directory(layout.unit_dir(_method, p)) for p in _members],
            log:
                f"logs/{_method}_new_users/{_pack}.log",
            benchmark:
                f"results/benchmarks/{_method}_new_users/{_pack}.tsv"
            group:
                f"{_method}_new_users"
            conda:
                "../envs/train.yaml"
            threads: RES["threads"]
            resources:
                **model_cpu_resources(len(_members)),
            params:
                **merge_params(val_neighbors=config["merge"]["neighbors_k"]),
            script:
                "../workflow/scripts/merge_adapters.py"
