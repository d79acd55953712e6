# History in the prompt (OPPU / LaMP style; table field prompt: [history]): a dialogue's most similar
# past exchanges of the SAME persona's TRAIN dialogues (adaptcommand.retrieval), one file per split;
# cold_start (the new users) retrieves from each new user's first history.cold_start_sessions sessions,
# the only dialogues of theirs a method sees. {budget}: "-n<N>", from the N most recent train sessions
# (train.sessions), or "" (all). (RETRIEVAL, the settings: rules/common.smk.)


rule retrieve_history:
    input:
        dialogs=lambda wc: eval_data(wc)["dialogs"],
        splits=lambda wc: (
            eval_data(wc)["splits"]
            if wc.split == layout.COLD
            else layout.splits(wc.budget)
        ),
    output:
        layout.history("{split}", "{budget}"),
    log:
        layout.log("retrieve_history", "{split}{budget}"),
    benchmark:
        layout.benchmark("retrieve_history", "{split}{budget}")
    wildcard_constraints:
        split=f"train|val|test|{layout.COLD}",
    # the history training (a long job) waits for it.
    priority: 8
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        **RETRIEVAL,
        code=script_hash("retrieve_history.py"),
        personas=eval_personas,
        data_split=data_split,
        pool_sessions=lambda wc: (
            config["history"]["cold_start_sessions"] if wc.split == layout.COLD else 0
        ),
    script:
        "../workflow/scripts/retrieve_history.py"
