"""Rule split_data: per persona, in session order, train/val/test, plus the validation report."""

from adaptcommand.data.io import load_dialogs, write_json_atomic
from adaptcommand.data.splits import make_splits, validate_splits
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    dialogs = load_dialogs(snakemake.input.dialogs)
    splits = make_splits(dialogs, snakemake.params.train_frac, snakemake.params.val_frac)
    report = validate_splits(splits, dialogs)
    write_json_atomic(snakemake.output.splits, splits)
    write_json_atomic(snakemake.output.report, report)
    log.info("split report: %s", report)
