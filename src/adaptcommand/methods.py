"""The method table (workflow/methods.yaml): what each method and control is, and what each kind means.

`load_methods(path)` reads it, validates it against its JSON schema (workflow/schemas/methods.schema.yaml:
the fields and their values) and checks what a schema cannot say (the scopes each kind has rules for,
what each way of serving new users needs); everything that lists or describes methods derives from it
(the config check of eval.methods, the rules, the report, the README table, the tests). `KINDS` is the
one place that says what an adapter kind means to the workflow: whether it is trained, which recipe it
trains with, whether it has adapters to find (a manifest), whether it generates its own predictions,
whose adapters it borrows or merges and which rule makes it; what a method's prompts carry (retrieved
history, the persona's text) is a field of its row (`prompt`). From a row's adapter, scope and start
follow the rules that make it (`derived_rules`, the table's
`rules` after loading) and which config checks apply to it (`reads_clustering`, ...); nothing keys on a
method's name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from adaptcommand import yamlfiles

__all__ = [
    "CLUSTERING_RULE",
    "HISTORY_RULE",
    "KINDS",
    "SCHEMA",
    "Kind",
    "MethodTableError",
    "derived_rules",
    "has_history",
    "kind_of",
    "load_methods",
    "reads_clustering",
    "recipe_section",
    "trained",
]

# Where the table's schema lies, relative to the table's own directory (workflow/).
SCHEMA = Path("schemas") / "methods.schema.yaml"
# The rules (families) other methods' jobs wait for: the clustering of the known personas (clusters and
# the persona similarity, rules/cluster.smk) and the retrieval of past exchanges (rules/history.smk).
CLUSTERING_RULE = "cluster_personas"
HISTORY_RULE = "retrieve_history"


@dataclass(frozen=True)
class Kind:
    """What an adapter kind means to the workflow."""

    scopes: tuple[str, ...]  # the scopes a method of this kind may have
    trains: bool = False  # trained by the generic training rule of its scope (rules/train.smk)
    recipe: str = ""  # its recipe: "own" = train.<method>, else that section of train
    adapters: bool = True  # it has adapters, listed in models/<method>/adapters.json
    generates: bool = True  # evaluated by generating (routing composes its candidates' predictions)
    borrows: str = ""  # it has no adapters of its own: that method's, each persona given the NEXT one's
    # its adapters are merges of that method's (per persona) adapters, chosen by the clustering job:
    # per persona its most similar others (the persona similarity), per cluster its members
    merges: str = ""
    # the rule (family) that makes its adapters or results besides evaluation, {name} = the method's
    # name: per persona one job per pack of personas (train_<name>.<pack>, <name>.<pack>)
    rule: str = ""
    evaluation: str = "evaluate"  # the rule that makes its results (routing composes its candidates')


KINDS = {
    "none": Kind(scopes=("none",), adapters=False),
    "lora": Kind(scopes=("all", "persona", "cluster"), trains=True, recipe="own", rule="train_{name}"),
    "prefix": Kind(scopes=("all", "persona", "cluster"), trains=True, recipe="prefix", rule="train_{name}"),
    # persona LoRAs merged in weight-update space: per persona its nearest OTHER personas' (scope
    # persona), per cluster its members' (scope cluster); rules/merge.smk
    "merge": Kind(scopes=("persona", "cluster"), merges="persona", rule="{name}"),
    # the `persona` method's adapters, each persona given the NEXT persona's (a fixed derangement)
    "swapped": Kind(scopes=("persona",), borrows="persona"),
    # per persona, one of routing.candidates chosen on val; rules/routing.smk
    "routing": Kind(
        scopes=("persona",), adapters=False, generates=False, rule="route", evaluation="evaluate_routing"
    ),
}

# What each way of serving a new user requires of the method (cold_start: none needs nothing).
COLD_START_NEEDS = {
    "same": (lambda e: e["scope"] in ("none", "all"), "one adapter for everybody (scope none or all)"),
    "nearest_cluster": (lambda e: e["scope"] == "cluster", "scope cluster"),
    "nearest_personas": (
        lambda e: bool(kind_of(e).merges) and e["scope"] == "persona",
        "a per-persona merge",
    ),
    "adapt": (
        lambda e: kind_of(e).trains and e["scope"] == "persona" and e["start"] != "base" and not e["prompt"],
        "a trained per-persona method without prompt fields that starts from a per-persona method",
    ),
}


class MethodTableError(ValueError):
    """The method table is malformed (the message names the file, the method and the field)."""


def kind_of(entry: dict) -> Kind:
    return KINDS[entry["adapter"]]


def has_history(entry: dict) -> bool:
    """Its prompts carry the persona's retrieved past train exchanges (table field prompt: [history])."""
    return "history" in entry["prompt"]


def trained(methods: dict[str, dict], scope: str) -> list[str]:
    """The methods (and variants) of `scope` that the generic training rules train."""
    return [m for m, e in methods.items() if kind_of(e).trains and e["scope"] == scope]


def recipe_section(name: str, entry: dict) -> str:
    """The section of the config's `train` that holds the recipe of trained method `name`: the table's
    `recipe`, else its own (train.<name>) or its kind's (train.prefix)."""
    recipe = entry.get("recipe") or kind_of(entry).recipe
    return name if recipe == "own" else recipe


def reads_clustering(entry: dict) -> bool:
    """The method waits for the clustering job (`CLUSTERING_RULE`): its adapters are per cluster, or it
    merges adapters chosen by the clustering (per persona: by the persona similarity)."""
    return entry["scope"] == "cluster" or bool(kind_of(entry).merges)


def _can_start_from(entry: dict, start: dict) -> bool:
    """A method may start from one adapter for everybody (merged into the base) or, per persona, from
    a per-persona method's adapter of the same persona (folded into its own)."""
    if start["scope"] == "all":
        return True
    return entry["scope"] == start["scope"] == "persona" and kind_of(start).adapters and kind_of(entry).trains


def _sources(entry: dict) -> list[str]:
    """The methods whose jobs `entry`'s wait for: the one it starts from (unless the base), the one
    whose adapters it borrows or merges."""
    kind = kind_of(entry)
    return [s for s in (entry["start"] if entry["start"] != "base" else "", kind.borrows or kind.merges) if s]


def derived_rules(name: str, table: dict[str, dict], _path: tuple[str, ...] = ()) -> list[str]:
    """The rules (families) whose jobs make method `name` of `table`, besides its evaluation: what it
    starts from (the rules of the method `start` names, unless the base), the method whose adapters it
    borrows or merges (that method's rules), the clustering if it reads it, the retrieval if its
    prompts carry history, then its kind's own rule. Its jobs' benchmarks are its cost
    (adaptcommand.costs)."""
    if name in _path:
        raise MethodTableError(f"{name} starts from, borrows or merges itself: {' -> '.join([*_path, name])}")
    entry = table[name]
    kind = kind_of(entry)
    rules: list[str] = []
    for source in _sources(entry):
        rules += derived_rules(source, table, (*_path, name))
    if reads_clustering(entry):
        rules.append(CLUSTERING_RULE)
    if has_history(entry):
        rules.append(HISTORY_RULE)
    if kind.rule:
        rules.append(kind.rule.format(name=name))
    return list(dict.fromkeys(rules))


def _schema_problems(path, table, schema: dict) -> list[str]:
    """The table's violations of its schema, one line each naming the file, the method and the field."""
    import jsonschema

    problems = []
    errors = jsonschema.Draft202012Validator(schema).iter_errors(table)
    for error in sorted(errors, key=lambda e: [str(part) for part in e.absolute_path]):
        where = list(error.absolute_path)
        name = where[0] if where else None
        rule = error.schema
        if "propertyNames" in error.schema_path:
            names = schema["propertyNames"]
            problems.append(f"{path}: {error.instance!r}: not a method name ({names['description']})")
        elif not where:
            problems.append(f"{path}: expected a mapping of method names to their fields ({error.message})")
        elif len(where) == 1 and error.validator == "type":
            problems.append(f"{path}: {name} = {error.instance!r}: expected a mapping of its fields")
        elif error.validator == "required":
            problems.append(f"{path}: {name}: {error.message}")
        elif error.validator == "additionalProperties":
            known = list(rule.get("properties", {}))
            for field in sorted(set(error.instance) - set(known), key=str):
                hint = (
                    "derived from adapter, scope and start (adaptcommand.methods.derived_rules): remove it"
                    if field == "rules"
                    else f"fields: {', '.join(known)}"
                )
                problems.append(f"{path}: {name}.{field}: unknown field ({hint})")
        else:
            field = ".".join(str(part) for part in where[1:])
            what = f"not one of {rule['enum']}" if error.validator == "enum" else error.message
            problems.append(f"{path}: {name}.{field} = {error.instance!r}: {what}")
    return problems


def load_methods(path: str | os.PathLike, schema: str | os.PathLike | None = None) -> dict[str, dict]:
    """{name: {role, adapter, scope, start, cold_start, rules, about}} in the table's order: the table
    at `path` validated against `schema` (default: `SCHEMA` beside the table, as in the workflow), the
    schema's defaults filled in, `rules` derived (`derived_rules`). Raises `MethodTableError` with one
    line per problem, each naming the file, the method and the field."""
    import yaml

    schema_path = Path(schema) if schema is not None else Path(path).parent / SCHEMA
    try:
        schema_doc = yaml.safe_load(schema_path.read_text())
        table = yamlfiles.load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MethodTableError(f"{path}: cannot be read with its schema {schema_path} ({exc})") from None
    problems = _schema_problems(path, table, schema_doc)
    if problems:
        raise MethodTableError("\n".join(problems))
    fields = schema_doc["additionalProperties"]["properties"]
    defaults = {f: spec["default"] for f, spec in fields.items() if "default" in spec}
    for name, entry in table.items():
        entry = table[name] = {**defaults, **entry}
        kind = kind_of(entry)
        if entry["scope"] not in kind.scopes:
            problems.append(
                f"{path}: {name}: adapter {entry['adapter']!r} with scope {entry['scope']!r}: the "
                f"workflow has no rules for it (scopes of {entry['adapter']}: {list(kind.scopes)})"
            )
        if entry["prompt"] and not (kind.trains or entry["adapter"] == "none"):
            problems.append(
                f"{path}: {name}.prompt = {entry['prompt']}: a {entry['adapter']} adapter is made without "
                "prompts of its own (only trained methods and the base model take prompt fields)"
            )
        if entry.get("recipe") and not kind.trains:
            problems.append(f"{path}: {name}.recipe: only a trained method has one (not {entry['adapter']})")
        cold, needs = entry["cold_start"], COLD_START_NEEDS.get(entry["cold_start"])
        if needs and not needs[0](entry):
            problems.append(f"{path}: {name}.cold_start = {cold!r} needs {needs[1]}")
        for source in _sources(entry):
            field = "start" if source == entry["start"] else "adapter"
            if source not in table:
                problems.append(
                    f"{path}: {name}.{field} = {entry[field]!r} needs the method {source!r} in the table"
                )
            elif field == "start" and not _can_start_from(entry, table[source]):
                problems.append(
                    f"{path}: {name}.start = {source!r} needs {source} to be one adapter for everybody "
                    f"(scope all) or, for a per-persona method, a per-persona method with adapters; it "
                    f"is {table[source]['adapter']} with scope {table[source]['scope']!r}"
                )
            elif cold == "adapt" and table[source]["cold_start"] != "nearest_personas":
                problems.append(
                    f"{path}: {name}.cold_start = adapt needs its start {source} to serve new users per "
                    f"persona (cold_start nearest_personas), not {table[source]['cold_start']!r}"
                )
    if problems:
        raise MethodTableError("\n".join(problems))
    for name, entry in table.items():
        try:
            entry["rules"] = derived_rules(name, table)
        except MethodTableError as exc:
            raise MethodTableError(f"{path}: {exc}") from None
    return table
