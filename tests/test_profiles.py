"""The Slurm profile groups every per-persona family of the method table (adaptcommand.profiles): a
family it does not name would silently become one Slurm job per pack of personas (200 with
resources.pack_size 1)."""

from __future__ import annotations

from helpers import REPO

from adaptcommand.methods import load_methods
from adaptcommand.profiles import group_components, per_persona_families, ungrouped_families

TABLE = load_methods(REPO / "workflow" / "methods.yaml")
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"


def test_the_slurm_profile_groups_every_per_persona_family():
    """With and without new users (personas.cold_start: 0 in the full experiment, 3 in the demo)."""
    components = group_components(PROFILE)
    for new_users in (False, True):
        assert ungrouped_families(TABLE, components, new_users=new_users) == []
        assert all(components[f] > 1 for f in per_persona_families(TABLE, new_users=new_users))


def test_the_per_persona_families_follow_the_table():
    assert per_persona_families(TABLE, new_users=False) == [
        "train_persona",
        "train_hybrid",
        "train_prefix_persona",
        "train_prefix_unified_persona",
        "merge_neighbors",
        "train_merge_adapt",
        "train_oppu",
    ]
    # with new users, the merges that serve them by their nearest known personas and the trainings
    # that adapt to them: families of their own
    added = set(per_persona_families(TABLE)) - set(per_persona_families(TABLE, new_users=False))
    assert added == {"merge_neighbors_new_users", "train_merge_adapt_new_users"}


def test_a_new_per_persona_method_is_reported_until_the_profile_groups_it(tmp_path):
    table = dict(TABLE)
    table["persona_attn"] = {**TABLE["persona"], "about": "a persona LoRA on the attention layers"}
    table["neighbours_2"] = {**TABLE["merge_neighbors"], "about": "another neighbour merge"}
    table["cluster_big"] = {**TABLE["cluster"], "about": "per cluster: one job per cluster, no pack"}
    components = group_components(PROFILE)
    assert ungrouped_families(table, components, new_users=False) == ["train_persona_attn", "neighbours_2"]
    assert ungrouped_families(table, components)[-2:] == ["neighbours_2", "neighbours_2_new_users"]
    profile = tmp_path / "config.yaml"
    profile.write_text("group-components:\n  train_persona_attn: 12\n  neighbours_2: 1\n")
    assert ungrouped_families(table, group_components(profile), new_users=False)[-1:] == ["neighbours_2"]
    profile.write_text("group-components: ['train_persona=4', 'merge_neighbors=2']\n")
    assert group_components(profile) == {"train_persona": 4, "merge_neighbors": 2}
    profile.write_text("executor: slurm\n")
    assert group_components(profile) == {}
