"""The method table (workflow/methods.yaml): what each method and control is.

`load_methods(path)` reads and checks it; everything that lists or describes methods derives from it
(the config check of eval.methods, the rules' registry, the report, the README table, the tests).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FIELDS", "ROLES", "MethodTableError", "load_methods"]

ROLES = ("method", "control")
FIELDS = {
    "role": ROLES,
    "adapter": ("none", "lora", "prefix", "merge", "routing", "lora+history"),
    "scope": ("none", "all", "persona", "cluster"),
    "start": ("base", "unified"),
    "cold_start": ("none", "same", "nearest_cluster", "nearest_personas"),
    "rules": None,  # a list of rule names
    "about": None,  # one line of text
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
        if not isinstance(entry["rules"], list) or not all(isinstance(r, str) for r in entry["rules"]):
            raise MethodTableError(f"{path}: {name}.rules must be a list of rule names")
        if not isinstance(entry["about"], str) or not entry["about"].strip():
            raise MethodTableError(f"{path}: {name}.about must be a line of text")
        cold, needs = entry["cold_start"], COLD_START_NEEDS.get(entry["cold_start"])
        if needs and not needs[0](entry):
            raise MethodTableError(f"{path}: {name}.cold_start = {cold!r} needs {needs[1]}")
    return table
