"""Persona clustering: silhouette picks k, behaviour features read train dialogues only, similarity."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from adaptcommand.clusters import (
    behaviour_features,
    choose_k,
    cluster_personas,
    k_range,
    normalise_rows,
    relabel,
    silhouette_rows,
    similarity_ranking,
)
from adaptcommand.data.splits import make_splits

SETTINGS = [
    "Setting the lights to 40% brightness with a warm colour.",
    "Setting the AC to heat mode at 22 degrees with fan speed 2.",
    "Speaker volume set to 30 with bass boost.",
    "The TV volume is now 15 and the input is HDMI 2.",
    "Security armed and the alarm volume set to 80%.",
    "The lights are now at 90% brightness, cool white, dynamic mode.",
]


def _dialog(pid: str, sid: int, assistant: list[str]) -> dict:
    msgs = []
    for text in assistant:
        msgs += [{"role": "user", "text": "Could you help?"}, {"role": "assistant", "text": text}]
    return {
        "persona_id": pid,
        "session_id": sid,
        "character": f"{pid} is a person.",
        "routines": [],
        "meta": {"time_of_day": "evening"},
        "messages": msgs,
        "applied_routines": None,
    }


@pytest.fixture()
def world():
    """6 personas x 10 sessions (6 train / 2 val / 2 test): personas 0-2 like lights+AC, 3-5 TV+security."""
    dialogs = []
    for p in range(6):
        likes = SETTINGS[:2] if p < 3 else SETTINGS[3:5]
        for s in range(10):
            extra = [SETTINGS[2]] if s % 2 == 0 and s <= 2 * (p % 3) else []
            dialogs.append(_dialog(f"persona_{p:03d}", s, likes + extra))
    return dialogs, make_splits(dialogs, 0.6, 0.2)


def blobs(n_per: int, centers: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([c + 0.05 * rng.standard_normal((n_per, centers.shape[1])) for c in centers])


@pytest.mark.parametrize("true_k", [2, 3, 4])
def test_silhouette_picks_the_number_of_blobs(true_k):
    centers = np.eye(6)[:true_k] * 3
    x = blobs(8, centers, seed=true_k)
    best, scores, labels = choose_k(x, 2, 7, seed=0)
    assert best == true_k, scores
    assert set(scores) == set(range(2, 8))
    # The chosen labels separate the blobs exactly.
    got = labels[best].reshape(true_k, 8)
    assert all(len(set(row)) == 1 for row in got) and len({row[0] for row in got}) == true_k


def test_k_range_is_capped_at_n_minus_one():
    assert k_range(5, 2, 30) == [2, 3, 4]
    assert k_range(2, 2, 5) == []
    best, scores, labels = choose_k(np.eye(2), 2, 5, seed=0)
    assert best == 1 and scores == {} and labels[1].tolist() == [0, 0]


def test_behaviour_features_use_only_train_dialogues(world):
    dialogs, splits = world
    personas = [f"persona_{p:03d}" for p in range(6)]
    x, names = behaviour_features(dialogs, splits, personas)
    assert "lights.brightness=40" in names and "security.armed=True" in names
    # Fraction of the persona's train dialogues that set it: persona 0 sets AC 22 in all of them.
    assert x[0, names.index("ac.temperature=22")] == 1.0
    assert x[0, names.index("speaker.volume=30")] == pytest.approx(1 / 6)  # session 0 only

    held_out = {(p, s) for p, parts in splits["personas"].items() for s in parts["val"] + parts["test"]}
    changed = copy.deepcopy(dialogs)
    for d in changed:
        if (d["persona_id"], d["session_id"]) in held_out:
            d["messages"][1]["text"] = "The AC is set to 30 degrees and the TV to Netflix."
    x2, names2 = behaviour_features(changed, splits, personas)
    assert names2 == names and np.array_equal(x2, x)

    # ...while a change of a TRAIN dialogue does move them (the check above can fail).
    train0 = splits["personas"]["persona_000"]["train"][0]
    for d in changed:
        if (d["persona_id"], d["session_id"]) == ("persona_000", train0):
            d["messages"][1]["text"] = "The AC is set to 30 degrees."
    x3, names3 = behaviour_features(changed, splits, personas)
    assert "ac.temperature=30" in names3 and not np.array_equal(x3[:, : len(names)], x)


def test_similarity_excludes_self_and_is_ordered():
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])
    ids = ["a", "b", "c", "d"]
    ranked = similarity_ranking(x, ids)
    for pid, others in ranked.items():
        assert pid not in [q for q, _ in others] and len(others) == 3
        scores = [s for _, s in others]
        assert scores == sorted(scores, reverse=True)
    assert [q for q, _ in ranked["a"]] == ["b", "d", "c"]
    assert ranked["a"][0][1] == pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-6)


def test_cluster_ids_follow_first_persona_not_kmeans_labels():
    assert relabel(np.array([2, 0, 2, 1]), ["p0", "p1", "p2", "p3"]) == {
        "p0": "c0",
        "p1": "c1",
        "p2": "c0",
        "p3": "c2",
    }


def test_normalise_rows_keeps_zero_rows():
    out = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(out, [[0.6, 0.8], [0, 0]])


def test_cluster_personas_on_behaviour(world):
    dialogs, splits = world
    personas = [f"persona_{p:03d}" for p in range(6)]
    doc, sim = cluster_personas(dialogs, splits, personas, "behaviour", k=0, k_min=2, k_max=10, seed=0)
    assert doc["k"] == 2 and set(doc["silhouette"]) == {"2", "3", "4", "5"}
    assert doc["clusters"] == {"c0": personas[:3], "c1": personas[3:]}
    assert doc["sizes"] == {"c0": 3, "c1": 3}
    assert doc["assignment"]["persona_004"] == "c1"
    assert [q for q, _ in sim["neighbors"]["persona_000"][:2]] == ["persona_001", "persona_002"]
    rows = silhouette_rows(doc)
    assert [r["k"] for r in rows if r["chosen"]] == [2] and rows[0]["sizes"] == "3 3"

    fixed, _ = cluster_personas(dialogs, splits, personas, "behaviour", k=3, k_min=2, k_max=4, seed=0)
    assert fixed["k"] == 3 and sum(fixed["sizes"].values()) == 6 and list(fixed["silhouette"]) == ["3"]
    with pytest.raises(ValueError, match="cluster.k=7"):
        cluster_personas(dialogs, splits, personas, "behaviour", k=7, k_min=2, k_max=4, seed=0)


def test_cluster_checkpoint_view_for_the_rule_files(world, tmp_path):
    """What rules/cluster.smk and rules/merge.smk read from the checkpoint's outputs."""
    from types import SimpleNamespace

    from snakemake.exceptions import IncompleteCheckpointException

    from adaptcommand.clusters import ClusterCheckpoint, nearest_neighbors
    from adaptcommand.data.io import write_json_atomic

    dialogs, splits = world
    personas = [f"persona_{p:03d}" for p in range(6)]
    doc, sim = cluster_personas(dialogs, splits, personas, "behaviour", k=2, k_min=2, k_max=4, seed=0)
    out = SimpleNamespace(assignments=str(tmp_path / "a.json"), similarity=str(tmp_path / "s.json"))
    write_json_atomic(out.assignments, doc)
    write_json_atomic(out.similarity, sim)

    class Checkpoint:
        done = False

        def get(self, seed):  # one clustering per training seed
            if not self.done:
                raise IncompleteCheckpointException(None, out.assignments)
            assert seed == "2"
            return SimpleNamespace(output=out)

    cp = Checkpoint()
    view = ClusterCheckpoint(SimpleNamespace(cluster_personas=cp))
    seed2 = SimpleNamespace(seed="2")
    with pytest.raises(IncompleteCheckpointException):
        view.assignment(seed2)
    cp.done = True
    assert view.ids(seed2) == ["c0", "c1"] and view.assignment(seed2)["persona_005"] == "c1"
    assert view.members_param(SimpleNamespace(seed="2", cluster_id="c0")) == {
        "c0": ["persona_000", "persona_001", "persona_002"]
    }
    assert nearest_neighbors(out.similarity, "persona_000", 2) == ["persona_001", "persona_002"]
    assert len(nearest_neighbors(out.similarity, "persona_000", 99)) == 5  # K capped at the other personas
    with pytest.raises(ValueError, match="no cluster 'c7'"):
        view.members_param(SimpleNamespace(seed="2", cluster_id="c7"))
