"""Checkpoint cluster_personas: persona features (train split only / character text), KMeans clusters,
silhouette per k, and the persona similarity ranking used by merge_neighbors."""

import csv

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    from adaptcommand.clusters import cluster_personas, silhouette_rows
    from adaptcommand.data.io import load_dialogs, load_splits, write_json_atomic

    s = snakemake
    c = s.params.clustering
    doc, similarity = cluster_personas(
        load_dialogs(s.input.dialogs),
        load_splits(s.input.splits),
        list(s.params.personas),
        features=c["features"],
        k=int(c["k"]),
        k_min=int(c["k_min"]),
        k_max=int(c["k_max"]),
        seed=int(s.params.seed),
        minilm=s.params.minilm,
    )
    with open(s.output.silhouette, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["k", "silhouette", "chosen", "sizes"])
        writer.writeheader()
        writer.writerows(silhouette_rows(doc))
    write_json_atomic(s.output.similarity, similarity)
    write_json_atomic(s.output.assignments, doc)
    log.info(
        "k=%d (%s), silhouette %s, sizes %s", doc["k"], doc["k_selection"], doc["silhouette"], doc["sizes"]
    )
