"""Rule method_card: results/methods/<method>.json, what `adaptcommand chat` loads (adaptcommand.chat)."""

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    import json
    from pathlib import Path

    from adaptcommand.chat import card
    from adaptcommand.data.io import write_json_atomic
    from adaptcommand.routing import chosen_methods

    s = snakemake
    spec = dict(s.params.card)
    if "choices" in s.input.keys():  # routing: per persona, the method chosen on val
        spec = {**spec, "choices": chosen_methods(json.loads(Path(s.input.choices).read_text()))}
    else:
        spec = card(**spec)
    write_json_atomic(s.output[0], spec)
    log.info("%s: %d personas", s.wildcards.method, len(spec.get("routes") or spec.get("choices")))
