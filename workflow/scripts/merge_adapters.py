"""Rules merge_neighbors / merge_cluster: persona LoRAs merged in weight-update space, scale chosen on val."""

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:  # noqa: F821
    from adaptcommand.merging import merge_on_val, parse_scales
    from adaptcommand.prompts import PromptConfig

    s = snakemake  # noqa: F821
    p = dict(s.params.items())
    labels = p["sources"].split(",")
    info = merge_on_val(
        p["base"],
        dict(zip(labels, s.input.adapters, strict=True)),
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
