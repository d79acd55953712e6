"""Rule persona_adapters_manifest: {persona_id: adapter directory} of every trained persona LoRA."""

import json
from pathlib import Path

from adaptcommand.data.io import write_json_atomic
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    adapters = json.loads(snakemake.params.adapters)
    missing = sorted(p for p, d in adapters.items() if not (Path(d) / "adapter_config.json").is_file())
    if missing:
        raise FileNotFoundError(f"no trained adapter for {missing[:5]} in the persona packs")
    write_json_atomic(snakemake.output[0], adapters)
    log.info("%d persona adapters", len(adapters))
