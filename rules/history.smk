# History in the prompt (OPPU / LaMP style): the unified recipe, trained and evaluated with each
# dialogue's most similar past exchanges of the SAME persona's TRAIN dialogues in the system message
# (table adapter lora+history; trained by rules/train.smk with the train and val retrievals).
# Query = the dialogue's user messages before its first evaluated assistant turn (train, val and test
# alike); candidates = the persona's train exchanges that set a device; MiniLM cosine, top history.k.


# How exchanges are retrieved (also what `adaptcommand chat` retrieves with: the method card).
RETRIEVAL = dict(
    k=config["history"]["k"],
    query_turns=config["eval"]["skip_assistant_turns"] + 1,
    minilm=config["metrics"]["minilm"],
)


# One file per split; every split retrieves from the train split only (a train dialogue not from
# itself). train and val feed training, test feeds evaluation only; cold_start (the new users' test
# dialogues) retrieves from each new user's first history.cold_start_sessions sessions, the only
# dialogues of theirs a method sees.
rule retrieve_history:
    input:
        unpack(eval_data),
    output:
        "results/history/{split}.jsonl",
    log:
        "logs/retrieve_history/{split}.log",
    benchmark:
        "results/benchmarks/retrieve_history/{split}.tsv"
    wildcard_constraints:
        split=f"train|val|test|{COLD}",
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
            config["history"]["cold_start_sessions"] if wc.split == COLD else 0
        ),
    script:
        "../workflow/scripts/retrieve_history.py"
