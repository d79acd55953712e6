"""Rules merge_neighbors / merge_cluster: persona LoRAs merged in weight-update space, scale chosen on val."""

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:  # noqa: F821
    from pathlib import Path

    from adaptcommand.clusters import nearest_neighbors
    from adaptcommand.merging import merge_on_val, parse_scales
    from adaptcommand.prompts import PromptConfig

    s = snakemake  # noqa: F821
    p = dict(s.params.items())
    if "neighbors_k" in p:  # merge_neighbors: every persona adapter is an input, K nearest are merged
        by_persona = {Path(d).name: d for d in s.input.adapters}
        labels = nearest_neighbors(s.input.similarity, s.wildcards.persona_id, int(p["neighbors_k"]))
        sources = {q: by_persona[q] for q in labels}
    else:  # merge_cluster: the inputs are exactly the cluster's members
        sources = dict(zip(p["sources"].split(","), s.input.adapters, strict=True))
    info = merge_on_val(
        p["base"],
        sources,
        s.input.dialogs,
        s.input.splits,
        p["val_personas"].split(","),
        PromptConfig.from_config(p),
        parse_scales(p["scales"]),
        p["combination"],
        s.output[0],
        batch_size=int(p["batch_size"]),
        target=p["target"],
    )
    log.info(
        "%s: scale %s chosen on val (losses %s)",
        p["target"],
        info["chosen_scale"],
        [round(c["val_loss"], 4) for c in info["candidates"]],
    )
