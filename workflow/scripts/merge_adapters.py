"""Merge rules (rules/merge.smk, rules/cold_start.smk): persona LoRAs merged in weight-update space,
the total weight chosen on val, one merge per output directory models/<method>/<unit>.

A unit with members (params.members: a cluster) merges its members' LoRAs; otherwise the unit is a
persona whose merge.neighbors_k nearest OTHER personas (input similarity) are merged, the weight chosen
on its own val split, or, for a new user (params.val_neighbors = V > 0), on the val split of the next V
nearest known personas (the new user's own dialogues are never read). The persona LoRAs are found
through their manifest (input adapters).
"""

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    from adaptcommand import layout
    from adaptcommand.clusters import nearest_neighbors
    from adaptcommand.layout import units_of
    from adaptcommand.manifests import read_manifest, routes_of
    from adaptcommand.merging import merge_many_on_val
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.settings import MergeSettings

    s = snakemake
    settings = MergeSettings.from_section(s.params.merge, "merge")
    manifest = read_manifest(s.input.adapters)
    members = s.params.get("members")
    units, out_dirs = units_of(s.output, members)
    specs = {}
    for unit, personas in units.items():
        if members:  # a cluster: its members' LoRAs, weight chosen on their val split
            sources, val_personas, target = personas, personas, f"cluster {unit}"
        else:  # a persona: its nearest others' LoRAs
            k, v = settings.neighbors_k, int(s.params.val_neighbors)
            ranked = nearest_neighbors(s.input.similarity, unit, k + v)
            sources, val_personas = ranked[:k], (ranked[k:] if v else [unit])
            target = f"neighbors of {unit}"
        specs[unit] = {
            "sources": routes_of(manifest, sources),
            "val_personas": list(val_personas),
            "target": target,
        }
    logs = merge_many_on_val(
        s.params.base,
        specs,
        s.input.dialogs,
        s.input.splits,
        PromptConfig.from_section(s.params.prompt, "prompt"),
        list(settings.weight_scales),
        settings.combination,
        out_dirs,
        batch_size=int(s.params.val_batch_size),
        workers=s.threads,  # on a CPU, the pack's merges over the job's cores
        seed=layout.seed_number(s.wildcards.seed),
        density=settings.density,
    )
    for info in logs.values():
        log.info(
            "%s: scale %s chosen on val (losses %s)",
            info["target"],
            info["chosen_scale"],
            [round(c["val_loss"], 4) for c in info["candidates"]],
        )
