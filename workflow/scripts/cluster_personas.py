"""Checkpoint cluster_personas: persona features (train split only / character text), KMeans clusters,
silhouette per k, and the persona similarity ranking used by merge_neighbors."""

import csv

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    from adaptcommand.clusters import cluster_personas, silhouette_rows
    from adaptcommand.data.io import load_dialogs, load_splits, write_json_atomic

    s = snakemake
    p = s.params
    doc, similarity = cluster_personas(
        load_dialogs(s.input.dialogs),
        load_splits(s.input.splits),
        list(p.personas),
        features=p.features,
        k=int(p.k),
        k_min=int(p.k_min),
        k_max=int(p.k_max),
        seed=int(p.seed),
        minilm=p.minilm,
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
