"""Rule raw_data: the dataset's three line-aligned files from the Hub, a local copy, or (the offline
demo, data.source synthetic) the demo's generator."""

from pathlib import Path

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    out_dir = Path(snakemake.output.characters).parent
    if p.source == "synthetic":
        from adaptcommand.demo.synthetic import write_raw

        write_raw(
            out_dir,
            n_personas=p.n_personas,
            sessions_per_persona=p.sessions_per_persona,
            seed=p.seed,
        )
    else:
        from adaptcommand.data.raw import fetch_raw

        fetch_raw(p.source, out_dir, local_dir=p.local_dir or None, hf_dataset=p.hf_dataset)
    log.info("raw files from %s written to %s", p.source, out_dir)
