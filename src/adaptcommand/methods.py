"""The method table (workflow/methods.yaml): what each method and control is, and what each kind means.

`load_methods(path)` reads and checks it; everything that lists or describes methods derives from it
(the config check of eval.methods, the rules, the report, the README table, the tests). `KINDS` is the
one place that says what an adapter kind means to the workflow: whether it is trained, which recipe it
trains with, whether it has adapters to find (a manifest), whether it generates its own predictions
and whether its prompts carry retrieved history.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FIELDS",
    "KINDS",
    "ROLES",
    "Kind",
    "MethodTableError",
    "kind_of",
    "load_methods",
    "recipe_section",
    "trained",
]

ROLES = ("method", "control")
FIELDS = {
    "role": ROLES,
    "adapter": ("none", "lora", "prefix", "merge", "swapped", "routing", "lora+history"),
    "scope": ("none", "all", "persona", "cluster"),
    "start": ("base", "unified"),
    "cold_start": ("none", "same", "nearest_cluster", "nearest_personas"),
    "rules": None,  # a list of rule names
    "about": None,  # one line of text
}


@dataclass(frozen=True)
class Kind:
    """What an adapter kind means to the workflow."""

    scopes: tuple[str, ...]  # the scopes a method of this kind may have
    trains: bool = False  # trained by the generic training rule of its scope (rules/train.smk)
    recipe: str = ""  # its recipe: "own" = train.<method>, else that section of train
    adapters: bool = True  # it has adapters, listed in models/<method>/adapters.json
    generates: bool = True  # evaluated by generating (routing composes its candidates' predictions)
    history: bool = False  # retrieved past exchanges in its prompts (training and evaluation)
    borrows: str = ""  # it has no adapters of its own: that method's, each persona given the NEXT one's
    evaluation: str = "evaluate"  # the rule that makes its results (routing composes its candidates')


KINDS = {
    "none": Kind(scopes=("none",), adapters=False),
    "lora": Kind(scopes=("all", "persona", "cluster"), trains=True, recipe="own"),
    "prefix": Kind(scopes=("all", "persona", "cluster"), trains=True, recipe="prefix"),
    "lora+history": Kind(scopes=("all",), trains=True, recipe="own", history=True),
    # persona LoRAs merged in weight-update space: per persona its nearest OTHER personas' (scope
    # persona), per cluster its members' (scope cluster); rules/merge.smk
    "merge": Kind(scopes=("persona", "cluster")),
    # the `persona` method's adapters, each persona given the NEXT persona's (a fixed derangement)
    "swapped": Kind(scopes=("persona",), borrows="persona"),
    # per persona, one of routing.candidates chosen on val; rules/routing.smk
    "routing": Kind(scopes=("persona",), adapters=False, generates=False, evaluation="evaluate_routing"),
}

# Fields that may be left out, and their value then.
OPTIONAL = {"cold_start": "none"}
# What each way of serving a new user requires of the method (cold_start: none needs nothing).
COLD_START_NEEDS = {
    "same": (lambda e: e["scope"] in ("none", "all"), "one adapter for everybody (scope none or all)"),
    "nearest_cluster": (lambda e: e["scope"] == "cluster", "scope cluster"),
    "nearest_personas": (
        lambda e: e["adapter"] == "merge" and e["scope"] == "persona",
        "a per-persona merge",
    ),
}


class MethodTableError(ValueError):
    """The method table is malformed (the message names the method and the field)."""


def kind_of(entry: dict) -> Kind:
    return KINDS[entry["adapter"]]


def trained(methods: dict[str, dict], scope: str) -> list[str]:
    """The methods (and variants) of `scope` that the generic training rules train."""
    return [m for m, e in methods.items() if kind_of(e).trains and e["scope"] == scope]


def recipe_section(name: str, entry: dict) -> str:
    """The section of the config's `train` that holds the recipe of trained method `name`."""
    recipe = kind_of(entry).recipe
    return name if recipe == "own" else recipe


def load_methods(path: str | os.PathLike) -> dict[str, dict]:
    """{name: {role, adapter, scope, start, cold_start, rules, about}} in the table's order."""
    import yaml

    table = yaml.safe_load(Path(path).read_text())
    if not isinstance(table, dict) or not table:
        raise MethodTableError(f"{path}: expected a mapping of method names")
    for name, entry in table.items():
        if isinstance(entry, dict):
            entry = table[name] = {**OPTIONAL, **entry}
        if not isinstance(entry, dict) or set(entry) != set(FIELDS):
            got = sorted(entry) if isinstance(entry, dict) else entry
            raise MethodTableError(
                f"{path}: {name}: needs the fields {sorted(set(FIELDS) - set(OPTIONAL))} "
                f"(optional: {sorted(OPTIONAL)}), got {got}"
            )
        for field, allowed in FIELDS.items():
            value = entry[field]
            if allowed is not None and value not in allowed:
                raise MethodTableError(f"{path}: {name}.{field} = {value!r}, not one of {list(allowed)}")
        if entry["scope"] not in kind_of(entry).scopes:
            raise MethodTableError(
                f"{path}: {name}: adapter {entry['adapter']!r} with scope {entry['scope']!r}: the "
                f"workflow has no rules for it (scopes of {entry['adapter']}: {list(kind_of(entry).scopes)})"
            )
        if not isinstance(entry["rules"], list) or not all(isinstance(r, str) for r in entry["rules"]):
            raise MethodTableError(f"{path}: {name}.rules must be a list of rule names")
        if not isinstance(entry["about"], str) or not entry["about"].strip():
            raise MethodTableError(f"{path}: {name}.about must be a line of text")
        cold, needs = entry["cold_start"], COLD_START_NEEDS.get(entry["cold_start"])
        if needs and not needs[0](entry):
            raise MethodTableError(f"{path}: {name}.cold_start = {cold!r} needs {needs[1]}")
    return table
