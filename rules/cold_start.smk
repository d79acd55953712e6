# New users (personas.cold_start): the last personas of the dataset, held out of everything that
# learns from users, evaluated on their test split (evaluation set cold_start) by every method of
# eval.methods that can serve a user it was not trained on (workflow/methods.yaml, field cold_start):
#   same:              the one adapter every known persona gets (base, unified, history: the history
#                      LoRA with exchanges of the user's first history.cold_start_sessions sessions);
#   nearest_cluster:   the adapter of the cluster closest to the user's character text;
#   nearest_personas:  a merge of the LoRAs of the merge.neighbors_k known personas closest to the
#                      user's character text, its total weight chosen on the val split of the next
#                      neighbors_k closest known personas (never on the new user).
# What is known of a new user: the character text (data/cold_start/characters.json).


checkpoint assign_new_users:
    input:
        dialogs=CLEAN,
        characters=NEW_CHARACTERS,
        assignments=CLUSTERS.assignments_file,
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


NEW_USER_CLUSTERS = ClusterCheckpoint(checkpoints.assign_new_users, CLUSTER_PACKS)
ASSIGN_BENCHMARK = "results/benchmarks/assign_new_users.tsv"
# The new users' merges: one job, one adapter directory per new user (a pack, as merge_neighbors').
NEW_USER_PACK = f"{NEW_USERS[0]}-{NEW_USERS[-1]}" if NEW_USERS else ""


use rule merge_neighbors as merge_new_users with:
    input:
        dialogs=CLEAN,
        splits=SPLITS,
        base=base_model_input(),
        similarity="results/cold_start/similarity.json",
        adapters="models/persona/adapters.json",
    output:
        directory("models/merge/new_users/{pack}"),
    log:
        "logs/merge_new_users/{pack}.log",
    benchmark:
        "results/benchmarks/merge_new_users/{pack}.tsv"
    params:
        **MERGE_RULE_PARAMS,
        neighbors_k=NEIGHBORS_K,
        val_neighbors=NEIGHBORS_K,
        pack=NEW_USERS,


for _method, _entry in METHOD_TABLE.items():
    if _entry["cold_start"] == "nearest_cluster":
        serve_new_users(
            _method,
            NEW_USER_CLUSTERS.routes(
                f"{model_dir(_method)}/{{cluster_pack}}/{{cluster_id}}", NEW_USERS
            ),
            lambda: [ASSIGN_BENCHMARK],
        )
    elif _entry["cold_start"] == "nearest_personas":
        serve_new_users(
            _method,
            lambda: {
                p: f"models/merge/new_users/{NEW_USER_PACK}/{p}" for p in NEW_USERS
            },
            lambda: [
                ASSIGN_BENCHMARK,
                f"results/benchmarks/merge_new_users/{NEW_USER_PACK}.tsv",
            ],
        )
