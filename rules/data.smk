# Raw data (Hugging Face | local copy | synthetic) -> strictly validated dialogues -> per-persona splits.
# The new users' (personas.cold_start) dialogues are written apart: no rule that learns reads them.
from adaptcommand.tracking import local_data_params


rule raw_data:
    output:
        **{Path(name).stem: f"{layout.RAW}/{name}" for name in RAW_FILES},
    log:
        layout.log("raw_data"),
    benchmark:
        layout.benchmark("raw_data")
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        code=script_hash("fetch_raw.py"),
        source=config["data"]["source"],
        hf_dataset=config["data"]["hf_dataset"],
        local_dir=config["data"]["local_dir"],
        seed=config["data"]["synthetic_seed"],
        n_personas=N_PERSONAS,
        sessions_per_persona=config["data"]["sessions_per_persona"],
    script:
        "../workflow/scripts/fetch_raw.py"


rule clean_data:
    input:
        **raw_files(rules.raw_data.output),
    output:
        dialogs=layout.CLEAN,
        new_dialogs=layout.NEW_DIALOGS,
        new_characters=layout.NEW_CHARACTERS,
    log:
        layout.log("clean_data"),
    benchmark:
        layout.benchmark("clean_data")
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        # data.source local: the digest of the user's files (an edit re-cleans whatever its date)
        **local_data_params(config["data"]),
        code=script_hash("clean.py"),
        unknown_keys=config["data"]["unknown_keys"],
        n_personas=N_PERSONAS,
        sessions_per_persona=config["data"]["sessions_per_persona"],
        new_users=NEW_USERS,
    script:
        "../workflow/scripts/clean.py"


rule split_data:
    input:
        dialogs=layout.CLEAN,
    output:
        splits=layout.SPLITS,
        report=layout.SPLIT_REPORT,
    log:
        layout.log("split_data"),
    benchmark:
        layout.benchmark("split_data")
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        code=script_hash("split.py"),
        train_frac=config["split"]["train_frac"],
        val_frac=config["split"]["val_frac"],
    script:
        "../workflow/scripts/split.py"


# The new users' splits, made the same way (their test split is what they are evaluated on).
use rule split_data as split_new_users with:
    input:
        dialogs=layout.NEW_DIALOGS,
    output:
        splits=layout.NEW_SPLITS,
        report=layout.NEW_SPLIT_REPORT,
    log:
        layout.log("split_new_users"),
    benchmark:
        layout.benchmark("split_new_users")


# A budget of a user's history (train.sessions): each persona's train split cut to its N most recent
# sessions, val and test unchanged; what learns with budget N reads it instead of SPLITS.
rule budget_splits:
    input:
        splits=layout.SPLITS,
    output:
        splits=layout.splits("{budget}"),
    log:
        layout.log("budget_splits", "train{budget}"),
    benchmark:
        layout.benchmark("budget_splits", "train{budget}")
    wildcard_constraints:
        budget=rf"{layout.BUDGET_MARK}\d+",
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        code=script_hash("budget_splits.py"),
        budget=lambda wc: layout.budget_of(wc.budget),
    script:
        "../workflow/scripts/budget_splits.py"


onstart:
    # When jobs are about to run (never in a dry run): the data can be had, and the run directory
    # remembers what made it (adaptcommand.rundir).
    with refuse_config_errors():
        rundir.check_source(config)
    rundir.record(config, workflow.overwrite_configfiles, workflow.main_snakefile)
