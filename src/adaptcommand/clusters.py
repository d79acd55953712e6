"""Persona features, KMeans clusters (k fixed or chosen by silhouette) and persona-to-persona similarity.

Two kinds of features, one row per persona:

- ``behaviour``: what the assistant did for the persona in its TRAIN dialogues only. Every assistant
  turn is parsed with `metrics.actions.extract_actions` into (device, parameter, value) settings; a
  feature is one setting (``ac.temperature=22``) and its value is the fraction of the persona's train
  dialogues in which the assistant set it. Val and test dialogues are never read.
- ``character``: the MiniLM (all-MiniLM-L6-v2) embedding of the persona's character text (what the
  reference study clustered on).

Rows are L2-normalised, so KMeans (euclidean) on them groups by direction and the persona similarity
is the cosine of the rows. With ``k = 0`` every k in ``k_min..min(k_max, n - 1)`` is fitted (seeded,
10 inits) and the k with the highest silhouette wins (ties: the smaller k). Cluster ids are ``c0``,
``c1``, ... numbered by each cluster's first persona id, so they do not depend on KMeans' label order.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np

from adaptcommand.data.splits import split_dialogs
from adaptcommand.metrics.parser import extract_actions

FEATURE_KINDS = ("behaviour", "character")


def _setting_name(action: tuple) -> str:
    device, parameter, value = action
    return f"{device}.{parameter}={value}"


def behaviour_counts(dialogs: list[dict], splits: dict, personas: list[str]) -> dict[str, Counter]:
    """Per persona: in how many of its TRAIN dialogues the assistant set each setting."""
    out = {}
    for pid in personas:
        counts: Counter = Counter()
        for d in split_dialogs(dialogs, splits, "train", [pid]):
            settings = set()
            for m in d["messages"]:
                if m["role"] == "assistant":
                    settings |= {_setting_name(a) for a in extract_actions(m["text"])}
            counts.update(settings)
        out[pid] = counts
    return out


def behaviour_features(
    dialogs: list[dict], splits: dict, personas: list[str]
) -> tuple[np.ndarray, list[str]]:
    """(matrix n_personas x n_settings, setting names): fraction of train dialogues setting each."""
    counts = behaviour_counts(dialogs, splits, personas)
    names = sorted(set().union(*counts.values())) if counts else []
    col = {n: j for j, n in enumerate(names)}
    x = np.zeros((len(personas), len(names)))
    for i, pid in enumerate(personas):
        n_train = len(splits["personas"][pid]["train"])
        for name, c in counts[pid].items():
            x[i, col[name]] = c / max(n_train, 1)
    return x, names


def character_texts(dialogs: list[dict], personas: list[str]) -> list[str]:
    """The character text of each persona (the same on every dialogue of the persona)."""
    texts = {}
    for d in dialogs:
        texts.setdefault(d["persona_id"], d["character"])
    missing = [p for p in personas if p not in texts]
    if missing:
        raise ValueError(f"no dialogues for personas {missing[:10]}")
    return [texts[p] for p in personas]


def character_features(dialogs: list[dict], personas: list[str], minilm: str = "") -> np.ndarray:
    """MiniLM embeddings (normalised) of the personas' character texts."""
    from adaptcommand.metrics.text import _encoder, minilm_path

    enc = _encoder(minilm_path(minilm))
    emb = enc.encode(character_texts(dialogs, personas), normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(emb, dtype=float)


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalised rows; an all-zero row (nothing extracted) stays zero."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def kmeans_labels(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    if k == 1:
        return np.zeros(len(x), dtype=int)
    return KMeans(n_clusters=k, random_state=seed, n_init=10).fit_predict(x)


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette score (euclidean on the normalised rows); NaN where it is undefined."""
    from sklearn.metrics import silhouette_score

    n_labels = len(set(labels.tolist()))
    if not 2 <= n_labels <= len(x) - 1:
        return math.nan
    return float(silhouette_score(x, labels))


def k_range(n: int, k_min: int, k_max: int) -> list[int]:
    """Candidate k: k_min..k_max capped at n - 1 (a silhouette needs 2 <= k <= n - 1)."""
    hi = min(k_max, n - 1)
    return list(range(max(2, k_min), hi + 1))


def choose_k(x: np.ndarray, k_min: int, k_max: int, seed: int) -> tuple[int, dict[int, float], dict]:
    """(best k, {k: silhouette}, {k: labels}) over `k_range`; ties go to the smaller k.

    With no candidate k (fewer than 3 rows, or k_min > n - 1) everything is one cluster.
    """
    ks = k_range(len(x), k_min, k_max)
    if not ks:
        return 1, {}, {1: np.zeros(len(x), dtype=int)}
    scores, labels = {}, {}
    for k in ks:
        labels[k] = kmeans_labels(x, k, seed)
        scores[k] = silhouette(x, labels[k])
    finite = {k: s for k, s in scores.items() if not math.isnan(s)}
    best = max(finite, key=lambda k: (finite[k], -k)) if finite else ks[0]
    return best, scores, labels


def relabel(labels: np.ndarray, personas: list[str]) -> dict[str, str]:
    """{persona: "c<i>"} with clusters numbered by their first persona id (stable ids)."""
    first: dict[int, str] = {}
    for pid, lab in sorted(zip(personas, labels.tolist(), strict=True)):
        first.setdefault(lab, pid)
    order = {lab: i for i, (lab, _) in enumerate(sorted(first.items(), key=lambda kv: kv[1]))}
    return {pid: f"c{order[lab]}" for pid, lab in zip(personas, labels.tolist(), strict=True)}


def similarity_ranking(x: np.ndarray, personas: list[str]) -> dict[str, list[list]]:
    """Per persona, every OTHER persona as [id, cosine], most similar first (ties: by id)."""
    xn = normalise_rows(x)
    sim = xn @ xn.T
    out = {}
    for i, pid in enumerate(personas):
        others = [(personas[j], float(sim[i, j])) for j in range(len(personas)) if j != i]
        others.sort(key=lambda t: (-round(t[1], 12), t[0]))
        out[pid] = [[q, round(s, 6)] for q, s in others]
    return out


def cluster_personas(
    dialogs: list[dict],
    splits: dict,
    personas: list[str],
    features: str,
    k: int,
    k_min: int,
    k_max: int,
    seed: int,
    minilm: str = "",
) -> tuple[dict, dict]:
    """(assignments document, similarity document) for `personas` (see the module doc)."""
    if features not in FEATURE_KINDS:
        raise ValueError(f"cluster.features must be one of {FEATURE_KINDS}, got {features!r}")
    personas = sorted(personas)
    n = len(personas)
    if n == 0:
        raise ValueError("no personas to cluster")
    if features == "behaviour":
        raw, names = behaviour_features(dialogs, splits, personas)
    else:
        raw, names = character_features(dialogs, personas, minilm), []
    x = normalise_rows(raw)
    if k > 0:
        if k > n:
            raise ValueError(f"cluster.k={k} > {n} personas")
        labels = kmeans_labels(x, k, seed)
        scores = {k: silhouette(x, labels)}
        chosen, how = k, "fixed (cluster.k)"
    else:
        chosen, scores, all_labels = choose_k(x, k_min, k_max, seed)
        labels = all_labels[chosen]
        ks = k_range(n, k_min, k_max)
        how = f"best silhouette over k={ks}" if ks else f"one cluster: no k in {k_min}..min({k_max}, {n - 1})"
    assignment = relabel(labels, personas)
    clusters: dict[str, list[str]] = {}
    for pid in personas:
        clusters.setdefault(assignment[pid], []).append(pid)
    clusters = dict(sorted(clusters.items(), key=lambda kv: int(kv[0][1:])))
    doc = {
        "features": features,
        "feature_dim": int(x.shape[1]),
        "feature_names": names,
        "nonzero_features_per_persona": {p: int(np.count_nonzero(raw[i])) for i, p in enumerate(personas)},
        "k": len(clusters),  # < k_requested only if KMeans found fewer distinct points
        "k_requested": int(chosen),
        "k_selection": how,
        "silhouette": {str(kk): (None if math.isnan(s) else round(s, 6)) for kk, s in scores.items()},
        "seed": seed,
        "sizes": {c: len(m) for c, m in clusters.items()},
        "clusters": clusters,
        "assignment": assignment,
    }
    return doc, {"features": features, "metric": "cosine", "neighbors": similarity_ranking(raw, personas)}


def silhouette_rows(doc: dict) -> list[dict]:
    """One row per k tried: k, silhouette, chosen (and the sizes of the chosen clustering)."""
    rows = []
    for kk, s in doc["silhouette"].items():
        chosen = int(kk) == doc["k_requested"]
        sizes = " ".join(str(v) for v in doc["sizes"].values()) if chosen else ""
        rows.append({"k": int(kk), "silhouette": s, "chosen": chosen, "sizes": sizes})
    return rows


def nearest_neighbors(similarity_path: str, persona_id: str, k: int) -> list[str]:
    """The k personas most similar to `persona_id` (itself excluded) in a similarity.json."""
    with open(similarity_path) as f:
        ranked = json.load(f)["neighbors"][persona_id]
    return [q for q, _ in ranked[: min(k, len(ranked))]]


class ClusterCheckpoint:
    """What the rule files read from the ``cluster_personas`` checkpoint (``checkpoints.cluster_personas``),
    one clustering per training seed (wildcard ``seed``).

    Every method goes through ``checkpoint.get()``, so before the clustering has run Snakemake gets
    its IncompleteCheckpointException and schedules the checkpoint first; input functions and params
    that read the assignment must therefore list `assignments_file` as an input.
    """

    def __init__(self, checkpoints, name: str = "cluster_personas"):
        # Snakemake's `checkpoints` and the rule's name: looked up when first asked, so the rule
        # files that read the clustering may be included before rules/cluster.smk defines it.
        self.checkpoints, self.name = checkpoints, name

    def assignments_file(self, wildcards) -> str:
        checkpoint = getattr(self.checkpoints, self.name)
        return checkpoint.get(seed=wildcards.seed).output.assignments

    def doc(self, wildcards) -> dict:
        with open(self.assignments_file(wildcards)) as f:
            return json.load(f)

    def assignment(self, wildcards) -> dict[str, str]:
        """{persona_id: cluster_id ("c0", "c1", ...)} of every clustered persona."""
        return self.doc(wildcards)["assignment"]

    def ids(self, wildcards) -> list[str]:
        return sorted(set(self.assignment(wildcards).values()), key=lambda c: int(c[1:]))

    def members_param(self, wildcards) -> dict[str, list[str]]:
        """{cluster_id: its members} of the job's `wildcards.cluster_id` (a params function)."""
        members = self.doc(wildcards)["clusters"].get(wildcards.cluster_id)
        if not members:
            raise ValueError(f"no cluster {wildcards.cluster_id!r} in the assignment")
        return {wildcards.cluster_id: members}
