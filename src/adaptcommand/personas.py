"""Which personas a run learns from, and new users (cold start).

A run has two sets of personas (`persona_sets`):

- the **known** personas: the first ``personas.evaluate`` of the dataset (0 = all but the new users).
  Everything that learns from users (the unified, cluster, persona and merged adapters, the
  clustering, every val selection, routing) reads their dialogues, and the main comparison scores
  them on their test split.
- the **new users** (``personas.cold_start: N``): the last N personas of the dataset. Their dialogues
  are held out of everything above: `data.clean.clean` writes them to a file of their own, which only
  their evaluation and, for the history method, the retrieval from their first sessions read. What a
  method may know of a new user is its character text (the sketch a user gives when signing up).

A new user is served without training on them (`assign_new_users`): the cluster whose known members'
character texts are closest (cosine of MiniLM embeddings to the cluster's mean), and the known
personas ranked by the same similarity (merge_neighbors merges the nearest and chooses its weight
on the val split of the next nearest: known users like the new one, never the new user).
"""

from __future__ import annotations

import numpy as np

__all__ = ["persona_id", "persona_sets", "assign_new_users"]


def persona_id(i: int) -> str:
    return f"persona_{i:03d}"


def persona_sets(n_personas: int, evaluate: int = 0, cold_start: int = 0) -> tuple[list[str], list[str]]:
    """(known personas, new users) of a dataset of `n_personas` (ids persona_000, ...).

    New users are the last `cold_start`; known are the first `evaluate` (0 = all the others).
    """
    if cold_start < 0 or evaluate < 0:
        raise ValueError(f"need evaluate >= 0 and cold_start >= 0, got {evaluate}, {cold_start}")
    n_known = evaluate or n_personas - cold_start
    if n_known < 1 or n_known + cold_start > n_personas:
        raise ValueError(
            f"personas.evaluate = {evaluate} and personas.cold_start = {cold_start}: "
            f"{n_known} known + {cold_start} new users do not fit in {n_personas} personas"
        )
    known = [persona_id(i) for i in range(n_known)]
    new = [persona_id(i) for i in range(n_personas - cold_start, n_personas)]
    return known, new


def _normalised(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def assign_new_users(
    known_vectors: dict[str, np.ndarray],
    clusters: dict[str, list[str]],
    new_vectors: dict[str, np.ndarray],
) -> tuple[dict, dict]:
    """(assignments document, similarity document) of the new users.

    `known_vectors` / `new_vectors`: {persona: character embedding}; `clusters`: {cluster_id: known
    members} (the clustering of the known personas). A new user goes to the cluster whose mean member
    embedding is the most similar (cosine; ties: the lower cluster id), and gets every known persona
    ranked by cosine (ties: by id). The documents have the layout of the clustering's
    (``assignment``/``clusters``, ``neighbors``), so the same readers serve both.
    """
    known = sorted(known_vectors)
    new = sorted(new_vectors)
    if not known or not new:
        raise ValueError("need known personas and new users")
    outside = sorted({p for members in clusters.values() for p in members} - set(known))
    if outside:
        raise ValueError(f"clusters name personas without a character embedding: {outside[:5]}")
    kx = _normalised([known_vectors[p] for p in known])
    nx = _normalised([new_vectors[p] for p in new])
    row = {p: i for i, p in enumerate(known)}
    ids = sorted(clusters, key=lambda c: int(c[1:]))
    centroids = _normalised([kx[[row[p] for p in clusters[c]]].mean(axis=0) for c in ids])
    to_cluster = nx @ centroids.T
    to_known = nx @ kx.T
    assignment, similarity, neighbors = {}, {}, {}
    for i, p in enumerate(new):
        best = max(range(len(ids)), key=lambda j: (round(float(to_cluster[i, j]), 12), -j))
        assignment[p] = ids[best]
        similarity[p] = {c: round(float(to_cluster[i, j]), 6) for j, c in enumerate(ids)}
        ranked = sorted(
            ((q, float(to_known[i, row[q]])) for q in known), key=lambda t: (-round(t[1], 12), t[0])
        )
        neighbors[p] = [[q, round(s, 6)] for q, s in ranked]
    members: dict[str, list[str]] = {}
    for p in new:
        members.setdefault(assignment[p], []).append(p)
    doc = {
        "features": "character",
        "assigned_by": "cosine of the new user's character embedding to each cluster's mean",
        "assignment": assignment,
        "clusters": dict(sorted(members.items(), key=lambda kv: int(kv[0][1:]))),
        "cluster_similarity": similarity,
    }
    return doc, {"features": "character", "metric": "cosine", "neighbors": neighbors}
