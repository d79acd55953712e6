"""Rules merge_neighbors / merge_cluster: persona LoRAs merged in weight-update space, scale chosen on val.

merge_neighbors merges, for every persona of its pack (params.pack), the LoRAs of its K most similar
OTHER personas into <output>/<persona_id>; merge_cluster merges, for every cluster of its pack
(params.clusters), the cluster's members into <output>/<cluster_id>;
merge_new_users (params.val_neighbors = V) merges a new user's K nearest known personas and chooses the
weight on the val split of the next V (the new user's own dialogues are never read).
"""

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    import json
    from pathlib import Path

    from adaptcommand.clusters import nearest_neighbors
    from adaptcommand.data.io import atomic_directory
    from adaptcommand.merging import merge_many_on_val
    from adaptcommand.prompts import PromptConfig

    s = snakemake
    p = dict(s.params.items())
    # The persona LoRAs: {persona_id: <pack>/<persona_id>/} (rule persona_adapters_manifest).
    by_persona = json.loads(Path(s.input.adapters).read_text())
    with atomic_directory(s.output[0]) as out:
        if "neighbors_k" in p:  # every persona adapter is an input; the K nearest are merged
            units, out_dirs = {}, {}
            k, v = int(p["neighbors_k"]), int(p.get("val_neighbors", 0))
            for persona in p["pack"]:
                ranked = nearest_neighbors(s.input.similarity, persona, k + v)
                units[persona] = {
                    "sources": {q: by_persona[q] for q in ranked[:k]},
                    "val_personas": ranked[k:] if v else [persona],
                    "target": f"neighbors of {persona}",
                }
                out_dirs[persona] = out / persona
        else:  # merge_cluster: per cluster of the pack ({cluster_id: members}), its members' LoRAs
            units = {
                cluster: {
                    "sources": {q: by_persona[q] for q in members},
                    "val_personas": list(members),
                    "target": f"cluster {cluster}",
                }
                for cluster, members in p["clusters"].items()
            }
            out_dirs = {cluster: out / cluster for cluster in units}
        logs = merge_many_on_val(
            p["base"],
            units,
            s.input.dialogs,
            s.input.splits,
            PromptConfig.from_config(p),
            [float(x) for x in p["scales"]],
            p["combination"],
            out_dirs,
            batch_size=int(p["batch_size"]),
            workers=s.threads,  # on a CPU, the pack's merges over the job's cores
        )
    for info in logs.values():
        log.info(
            "%s: scale %s chosen on val (losses %s)",
            info["target"],
            info["chosen_scale"],
            [round(c["val_loss"], 4) for c in info["candidates"]],
        )
