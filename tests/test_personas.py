"""Known personas and new users (cold start): who is held out, and how a new user is served."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adaptcommand.personas import assign_new_users, persona_sets


def test_new_users_are_the_last_personas_and_never_known():
    known, new = persona_sets(15, 0, 3)
    assert known == [f"persona_{i:03d}" for i in range(12)]
    assert new == ["persona_012", "persona_013", "persona_014"]
    assert persona_sets(15, 5, 3) == (known[:5], new)
    assert persona_sets(4) == ([f"persona_{i:03d}" for i in range(4)], [])
    with pytest.raises(ValueError, match="do not fit"):
        persona_sets(10, 8, 3)
    with pytest.raises(ValueError, match="do not fit"):
        persona_sets(3, 0, 3)


def _unit(i: int, dim: int = 8) -> np.ndarray:
    v = np.zeros(dim)
    v[i] = 1.0
    return v


def test_a_new_user_goes_to_the_cluster_and_neighbours_its_character_is_closest_to():
    """Planted: the new user's character embedding is a known persona's of cluster c1 plus noise; it
    must land in c1, with that persona first among its neighbours. A user equidistant from both
    clusters (no signal) takes the lower id, deterministically."""
    known = {f"persona_{i:03d}": _unit(i // 2) + 0.05 * _unit(4 + i % 2) for i in range(6)}
    clusters = {
        "c0": ["persona_000", "persona_001"],
        "c1": ["persona_002", "persona_003"],
        "c2": ["persona_004", "persona_005"],
    }
    rng = np.random.default_rng(0)
    new = {
        "persona_010": known["persona_003"] + 0.01 * rng.normal(size=8),
        "persona_011": (_unit(0) + _unit(1)) / np.sqrt(2),  # half c0, half c1
    }
    doc, similarity = assign_new_users(known, clusters, new)
    assert doc["assignment"] == {"persona_010": "c1", "persona_011": "c0"}
    assert doc["clusters"] == {"c0": ["persona_011"], "c1": ["persona_010"]}
    ranked = [q for q, _ in similarity["neighbors"]["persona_010"]]
    assert ranked[0] == "persona_003" and ranked[1] == "persona_002" and sorted(ranked) == sorted(known)
    assert not set(ranked) & set(new), "a new user is never another new user's neighbour"
    json.dumps(doc), json.dumps(similarity)  # what the checkpoint writes


def test_assignment_reads_only_the_embeddings_it_is_given():
    known = {"persona_000": _unit(0), "persona_001": _unit(1)}
    with pytest.raises(ValueError, match="without a character embedding"):
        assign_new_users(known, {"c0": ["persona_000", "persona_007"]}, {"persona_009": _unit(0)})
