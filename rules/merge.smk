# Merges of a seed's persona LoRAs in update space, on CPU, for every merge of the table (variants too;
# rule named after the method): per persona its merge.neighbors_k most similar OTHER personas' (packs),
# per cluster its members'; the total weight chosen on VAL loss (adaptcommand.merging). New users
# (cold_start nearest_personas): rule <method>_new_users, weight chosen on the next nearest known's val.
MERGED = [m for m, e in METHOD_TABLE.items() if e["adapter"] == "merge"]
MERGE_JOBS = [
    AdapterJob(
        family,
        m,
        members,
        "merge_adapters.py",
        merge_inputs(m) | {"similarity": similarity},
        merge_params(m, val_neighbors=val_neighbors),
        scheduling.model_cpu_resources(RES, len(members)),
        label=pack,
        group=family,
    )
    for m in MERGED
    if METHOD_TABLE[m]["scope"] == "persona"
    for family, packs, similarity, val_neighbors in merge_jobs(m)
    for pack, members in packs.items()
] + [
    AdapterJob(
        m,
        m,
        ["{cluster_id}"],
        "merge_adapters.py",
        merge_inputs(m) | {"assignments": CLUSTERS.assignments_file},
        merge_params(m, members=CLUSTERS.members_param),
        scheduling.model_cpu_resources(RES),
        label="{cluster_id}",
    )
    for m in MERGED
    if METHOD_TABLE[m]["scope"] == "cluster"
]
