"""Rule clean_data: strict schema validation of the raw files into one dialogue per line; the new
users' (personas.cold_start) dialogues and character texts into files of their own."""

from pathlib import Path

from adaptcommand.data.clean import clean
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    s = snakemake
    raw_dir = Path(s.input[0]).parent
    stats = clean(
        raw_dir,
        s.output.dialogs,
        expected_personas=s.params.n_personas,
        expected_sessions=s.params.sessions_per_persona,
        unknown_keys=s.params.unknown_keys,
        held_out={
            "personas": list(s.params.new_users),
            "dialogs": s.output.new_dialogs,
            "characters": s.output.new_characters,
        },
    )
    if stats["unknown_keys"]:
        log.warning("unknown keys left out (data.unknown_keys: warn): %s", stats["unknown_keys"])
    log.info("cleaned: %s", stats)
