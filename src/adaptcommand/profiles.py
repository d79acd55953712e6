"""What the Slurm profile (profiles/slurm/config.yaml) must know of the method table.

A per-persona family, the pack jobs of one rule family made for every pack of personas
(``train_<method>.<pack>``, ``<merge method>.<pack>``, ``<merge method>_new_users.<pack>``), is
submitted as Slurm groups only if the profile's `group-components` names it; a family it does not name
silently becomes one Slurm job per pack (with `resources.pack_size: 1`, 200 single jobs).
`ungrouped_families` lists those families, so that the workflow can warn and a test can refuse them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from adaptcommand import yamlfiles
from adaptcommand.methods import kind_of

__all__ = ["NEW_USERS_SUFFIX", "group_components", "per_persona_families", "ungrouped_families"]

# The family of the new users' per-persona merges of a method serving them by its nearest known
# personas (table field cold_start nearest_personas; rules/merge.smk).
NEW_USERS_SUFFIX = "_new_users"


def per_persona_families(table: dict[str, dict], *, new_users: bool = True) -> list[str]:
    """The rule families of `table` (variants included) made of one job per pack of personas: the own
    rule of every method of scope persona that is trained or merged (its kind's `rule`, e.g.
    train_persona, merge_neighbors), and with `new_users` (personas.cold_start > 0) the new users'
    merges or trainings of the methods that serve them with adapters of their own (cold_start
    nearest_personas or adapt: <family>_new_users)."""
    families = []
    for name, entry in table.items():
        kind = kind_of(entry)
        if entry["scope"] != "persona" or not (kind.trains or kind.merges):
            continue
        family = kind.rule.format(name=name)
        families.append(family)
        if new_users and entry["cold_start"] in ("nearest_personas", "adapt"):
            families.append(family + NEW_USERS_SUFFIX)
    return list(dict.fromkeys(families))


def group_components(profile: str | os.PathLike) -> dict[str, int]:
    """{group: components} of a Snakemake profile's `group-components` (a mapping, or a list of
    "group=N" as on the command line); {} when the profile sets none."""

    doc = yamlfiles.load(Path(profile).read_text()) or {}
    value = doc.get("group-components") or {}
    if isinstance(value, Mapping):
        return {str(k): int(v) for k, v in value.items()}
    items = [value] if isinstance(value, str) else value
    return {k.strip(): int(v) for k, v in (str(item).split("=", 1) for item in items)}


def ungrouped_families(
    table: dict[str, dict], components: Mapping[str, int], *, new_users: bool = True
) -> list[str]:
    """The per-persona families (`per_persona_families`) that `components` (a profile's
    `group-components`, `group_components`) does not group into Slurm jobs of several packs: each of
    their pack jobs becomes a Slurm job of its own. The rules name each family's group after the family
    (rules/train.smk, rules/merge.smk)."""
    return [f for f in per_persona_families(table, new_users=new_users) if components.get(f, 1) <= 1]
