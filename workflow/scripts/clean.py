"""Rule clean_data: strict schema validation of the raw files into one dialogue per line."""

from pathlib import Path

from adaptcommand.data.clean import clean
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    raw_dir = Path(snakemake.input[0]).parent
    stats = clean(
        raw_dir,
        snakemake.output[0],
        expected_personas=snakemake.params.n_personas,
        expected_sessions=snakemake.params.sessions_per_persona,
        unknown_keys=snakemake.params.unknown_keys,
    )
    if stats["unknown_keys"]:
        log.warning("unknown keys left out (data.unknown_keys: warn): %s", stats["unknown_keys"])
    log.info("cleaned: %s", stats)
