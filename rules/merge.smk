# Merges of persona LoRAs in weight-update space, on CPU, for every method of the table whose adapter is
# a merge (rule named after the method): per persona its merge.neighbors_k most similar OTHER personas'
# LoRAs (in packs), per cluster its members'. Uniform weights, the total chosen on VAL loss
# (adaptcommand.merging); a seed's merges are of that seed's persona LoRAs (their manifest).


MERGED = [m for m, e in METHOD_TABLE.items() if e["adapter"] == "merge"]


# Per persona: the known personas' merges, and for a method serving new users (cold_start
# nearest_personas) theirs (rule <method>_new_users: the weight chosen on the next nearest known's val).
for _method in [m for m in MERGED if METHOD_TABLE[m]["scope"] == "persona"]:
    for _family, _packs, _similarity, _val_neighbors in merge_jobs(_method):
        for _pack, _members in _packs.items():

            rule:
                name:
                    f"{_family}.{_pack}"
                input:
                    **merge_inputs(_method),
                    similarity=_similarity,
                output:
                    [directory(layout.unit_dir(_method, "{seed}", p)) for p in _members],
                log:
                    layout.log(_family, "seed{seed}", _pack),
                benchmark:
                    layout.benchmark(_family, "seed{seed}", _pack)
                group:
                    _family
                conda:
                    "../envs/train.yaml"
                threads: RES["threads"]
                resources:
                    **scheduling.model_cpu_resources(RES, len(_members)),
                params:
                    **merge_params(_method, val_neighbors=_val_neighbors),
                script:
                    "../workflow/scripts/merge_adapters.py"


for _method in [m for m in MERGED if METHOD_TABLE[m]["scope"] == "cluster"]:

    rule:
        name:
            _method
        input:
            **merge_inputs(_method),
            assignments=CLUSTERS.assignments_file,
        output:
            directory(layout.unit_dir(_method, "{seed}", "{cluster_id}")),
        log:
            layout.log(_method, "seed{seed}", "{cluster_id}"),
        benchmark:
            layout.benchmark(_method, "seed{seed}", "{cluster_id}")
        conda:
            "../envs/train.yaml"
        threads: RES["threads"]
        resources:
            **scheduling.model_cpu_resources(RES),
        params:
            **merge_params(_method, members=CLUSTERS.members_param),
        script:
            "../workflow/scripts/merge_adapters.py"
