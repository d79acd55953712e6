"""Rule budget_splits: the splits with every persona's train split cut to its N most recent sessions
(train.sessions; adaptcommand.data.splits.with_budget), val and test unchanged."""

from adaptcommand.data.io import load_splits, write_json_atomic
from adaptcommand.data.splits import with_budget
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    cut = with_budget(load_splits(snakemake.input.splits), snakemake.params.budget)
    write_json_atomic(snakemake.output.splits, cut)
    log.info("train split cut to the %d most recent sessions of each persona", snakemake.params.budget)
