"""Rule clean_data: strict schema validation of the raw files into one dialogue per line."""

from pathlib import Path

from adaptcommand.data.clean import clean
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:  # noqa: F821
    raw_dir = Path(snakemake.input[0]).parent  # noqa: F821
    stats = clean(
        raw_dir,
        snakemake.output[0],  # noqa: F821
        expected_personas=snakemake.params.n_personas,  # noqa: F821
        expected_sessions=snakemake.params.sessions_per_persona,  # noqa: F821
        unknown_keys=snakemake.params.unknown_keys,  # noqa: F821
    )
    if stats["unknown_keys"]:
        log.warning("unknown keys left out (data.unknown_keys: warn): %s", stats["unknown_keys"])
    log.info("cleaned: %s", stats)
