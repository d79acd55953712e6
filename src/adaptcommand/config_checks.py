"""Checks of the workflow config that a JSON schema cannot express, run before any job starts.

`rules/common.smk` calls `check_config(config, schema)` right after Snakemake's schema validation
(which applies the defaults); every problem found is listed in one `ConfigError`, each naming its
key and value, e.g. ``train.persona.epochs = 4.0: must be an integer, not 4.0``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "QWEN2_LINEAR_MODULES",
    "variant_of",
    "check_config",
    "load_config",
    "validated_config",
    "with_variants",
]


def variant_of(methods: dict[str, dict]) -> list[str]:
    """The methods a variant may vary: the LoRAs that the generic per-persona and per-cluster
    training rules train (rules/persona.smk, rules/cluster.smk: rule train_<name> for every such
    method of the table, variants included). Prefix methods share one recipe (train.prefix)."""
    return [
        m
        for m, e in methods.items()
        if e["role"] == "method" and e["adapter"] == "lora" and e["scope"] in ("persona", "cluster")
    ]


# The linear layers of a Qwen2 decoder layer (the real Qwen2.5 and the demo's tiny Qwen2 alike, and
# of a Llama one: SmolLM2, tests/test_real_model.py;
# tests/test_config_checks.py compares this with the modules of a model built from the demo config).
# PEFT silently trains only the names that exist, so a typo would quietly change the recipe.
QWEN2_LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# Methods whose adapters merge other personas' (merge_neighbors) or group personas (cluster_*).
CLUSTER_METHODS = ("cluster", "merge_cluster", "prefix_cluster", "prefix_unified_cluster")


def validated_config(config: dict, workflow_dir: str | os.PathLike) -> dict[str, dict]:
    """What rules/common.smk does with the config before anything else: Snakemake's schema
    validation (which fills in the defaults), the config's variants added to the method table
    (config["train"] gets their recipes) and `check_config`. Changes `config` in place; returns the
    method table, variants included. Raises on the first failing stage, naming every problem."""
    import yaml
    from snakemake.utils import validate

    from adaptcommand.methods import load_methods

    root = Path(workflow_dir)
    methods = load_methods(root / "workflow" / "methods.yaml")
    schema_path = root / "workflow" / "schemas" / "config.schema.yaml"
    validate(config, schema=str(schema_path))
    schema = yaml.safe_load(schema_path.read_text())
    methods, config["train"] = with_variants(config, methods, schema)
    check_config(config, schema, methods)
    return methods


def load_config(*paths: str | os.PathLike) -> dict:
    """The YAML files merged in order, as `snakemake --configfile A B` merges them onto the Snakefile's
    configfile: nested mappings merge key by key, any other value (lists included) replaces the
    earlier one. `load_config("config/config.yaml", "config/demo.yaml")` is the demo's config."""
    import yaml

    def merge(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    config: dict = {}
    for path in paths:
        merge(config, yaml.safe_load(Path(path).read_text()) or {})
    return config


class ConfigError(ValueError):
    """The config passes the schema but cannot run as meant; the message lists every problem."""


def _integer_fields(node: dict, value: Any, root: dict, where: str = "") -> Iterator[str]:
    """Keys the schema types as integer whose value is a float (YAML `4.0`): JSON Schema counts 4.0
    as an integer, Python's range() and PyTorch do not."""
    ref = node.get("$ref", "")
    if ref.startswith("#/"):  # a local reference, e.g. #/$defs/lora
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
    if node.get("type") == "integer" and isinstance(value, float):
        yield f"{where} = {value!r}: must be an integer (write {int(value)} if that is meant)"
    if isinstance(value, dict):
        properties = node.get("properties", {})
        for key, sub in properties.items():
            if key in value:
                yield from _integer_fields(sub, value[key], root, f"{where}.{key}" if where else key)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):  # e.g. the recipe of a method added to the table: train.<name>
            for key in set(value) - set(properties):
                yield from _integer_fields(extra, value[key], root, f"{where}.{key}" if where else key)


def with_variants(config: dict, methods: dict[str, dict], schema: dict) -> tuple[dict, dict]:
    """The method table and config["train"] with the config's `variants` added.

    A variant (``persona_r4: {of: persona, train: {r: 4, alpha: 8}}``) is its method's table entry and
    recipe with the given recipe keys replaced; its recipe is checked against the method's schema
    (`$defs/lora`). Raises `ConfigError` naming every bad variant (unknown method, a method without a
    variant form, an existing name, an unknown or invalid recipe key).
    """
    import jsonschema

    lora = schema["$defs"]["lora"]
    table, train, problems = dict(methods), dict(config["train"]), []
    for name, spec in config.get("variants", {}).items():
        of, overrides = spec["of"], spec.get("train", {})
        where = f"variants.{name}"
        if name in methods:
            problems.append(f"{where}: {name!r} is already a method of workflow/methods.yaml")
            continue
        if of not in variant_of(methods):
            known = "not a method" if of not in methods else "has no variant form"
            problems.append(f"{where}.of = {of!r}: {known} (variants of: {', '.join(variant_of(methods))})")
            continue
        unknown = sorted(set(overrides) - set(lora["properties"]))
        if unknown:
            problems.append(
                f"{where}.train: unknown key(s) {unknown} (a LoRA recipe has {sorted(lora['properties'])})"
            )
            continue
        recipe = {**config["train"][of], **overrides}
        problems += [
            f"{where}.train.{'.'.join(map(str, e.path)) or '?'}: {e.message}"
            for e in jsonschema.Draft202012Validator(lora).iter_errors(recipe)
        ]
        problems += [f"{where}.train.{p}" for p in _integer_fields(lora, recipe, schema)]
        train[name] = recipe
        about = spec.get("about") or f"{of} with {', '.join(f'{k}={v}' for k, v in overrides.items())}"
        rules = [f"train_{name}" if r == f"train_{of}" else r for r in methods[of]["rules"]]
        table[name] = {**methods[of], "rules": rules, "about": about}
    if problems:
        raise ConfigError("config:\n  " + "\n  ".join(problems))
    return table, train


def _cold_start_problems(config: dict, methods: set[str], n_known: int) -> list[str]:
    """New users: enough known personas for their merges, and first sessions inside the train split."""
    from adaptcommand.data.splits import split_sizes

    problems = []
    k = config["merge"]["neighbors_k"]
    if "merge_neighbors" in methods and 2 * k > n_known:
        problems.append(
            f"merge.neighbors_k = {k}: a new user's merge takes the {k} nearest of the {n_known} known "
            f"personas and chooses its weight on the next {k}: needs 2 x {k} <= {n_known}"
        )
    n_train = split_sizes(
        config["data"]["sessions_per_persona"], config["split"]["train_frac"], config["split"]["val_frac"]
    )[0]
    first = config["history"].get("cold_start_sessions", 1)
    if "history" in methods and first > n_train:
        problems.append(f"history.cold_start_sessions = {first}: a persona has only {n_train} train sessions")
    return problems


def _model_problems(model: dict) -> list[str]:
    """model.gguf (a conversion into model.base) against model.build_demo_base and model.base."""
    gguf = model.get("gguf") or {}
    if not gguf.get("package"):
        return ["model.gguf.file is set but model.gguf.package is empty"] if gguf.get("file") else []
    problems = []
    if not gguf.get("file"):
        problems.append(
            f"model.gguf.package = {gguf['package']!r} needs model.gguf.file (the file inside it)"
        )
    if model["build_demo_base"]:
        problems.append("model.gguf and model.build_demo_base both build model.base: set one of them")
    base = model["base"]
    if Path(base).is_absolute() or ".." in Path(base).parts:
        problems.append(
            f"model.base = {base!r}: with model.gguf the converted directory is an output of the run, "
            "so it must be a relative path inside the working directory (e.g. models/smollm2-135m-instruct)"
        )
    return problems


def check_config(
    config: dict, schema: dict, methods: dict[str, dict], *, metric_names: set[str] | None = None
) -> None:
    """Raise `ConfigError` listing every problem of `config` (already schema-validated).

    `methods`: the method table (`adaptcommand.methods.load_methods`); `metric_names`: the per-persona
    metrics routing may decide on (default: those of `adaptcommand.metrics.scoring`).
    """
    problems = list(_integer_fields(schema, config, schema))
    no_recipe = [
        m
        for m, e in methods.items()
        if e["role"] == "method" and e["adapter"] == "lora" and m not in config["train"]
    ]
    if no_recipe:
        problems.append(
            f"methods {no_recipe} of workflow/methods.yaml are LoRAs without a recipe: "
            "they need their recipe train.<name>"
        )
    for key, role in (("methods", "method"), ("controls", "control")):
        known = [m for m, entry in methods.items() if entry["role"] == role]
        unknown = [m for m in config["eval"].get(key, []) if m not in known]
        if unknown:
            problems.append(
                f"eval.{key}: {unknown} are not {role}s of the method table workflow/methods.yaml "
                f"(one of {known})"
            )

    train = config["train"]
    for name, recipe in train.items():
        if not isinstance(recipe, dict):
            continue
        if "target_modules" in recipe:
            unknown = [m for m in recipe["target_modules"] if m not in QWEN2_LINEAR_MODULES]
            if unknown:
                problems.append(
                    f"train.{name}.target_modules = {recipe['target_modules']!r}: {unknown} are not "
                    f"linear layers of the model (Qwen2 and Llama: {', '.join(QWEN2_LINEAR_MODULES)})"
                )

    split = config["split"]
    if split["train_frac"] + split["val_frac"] >= 1:
        problems.append(
            f"split.train_frac + split.val_frac must be < 1 (the rest is test): "
            f"{split['train_frac']} + {split['val_frac']}"
        )
    problems += _model_problems(config["model"])
    data = config["data"]
    if data["source"] == "local" and not data.get("local_dir"):
        problems.append("data.source = 'local' needs data.local_dir (the directory of the three files)")
    n_personas = data["n_personas"]
    n_new = config["personas"].get("cold_start", 0)
    n_eval = config["personas"]["evaluate"] or n_personas - n_new
    if n_eval + n_new > n_personas or n_eval < 1:
        what = f"personas.evaluate = {config['personas']['evaluate']}"
        if n_new:
            what += f" + personas.cold_start = {n_new} new users"
        problems.append(f"{what}: more personas than data.n_personas = {n_personas}")
    methods = set(config["eval"]["methods"])
    if n_new:
        problems += _cold_start_problems(config, methods, n_eval)
    if "persona_swapped" in config["eval"].get("controls", []) and "persona" not in methods:
        problems.append("eval.controls persona_swapped needs persona in eval.methods")
    cluster = config["cluster"]
    if cluster["k_min"] > cluster["k_max"]:
        problems.append(
            f"cluster.k_min = {cluster['k_min']} > cluster.k_max = {cluster['k_max']}: "
            "the silhouette search needs k_min <= k_max"
        )
    if methods & set(CLUSTER_METHODS):
        k_top = cluster["k"] or cluster["k_min"]
        if k_top >= n_eval:
            key = "cluster.k" if cluster["k"] else "cluster.k_min"
            problems.append(f"{key} = {k_top}: needs fewer clusters than the {n_eval} evaluated personas")
    if "merge_neighbors" in methods and config["merge"]["neighbors_k"] > n_eval - 1:
        problems.append(
            f"merge.neighbors_k = {config['merge']['neighbors_k']}: only {n_eval - 1} other "
            f"personas are evaluated (personas.evaluate / data.n_personas)"
        )
    if not any(scale > 0 for scale in config["merge"]["weight_scales"]):
        problems.append(
            f"merge.weight_scales = {config['merge']['weight_scales']}: needs a scale > 0 "
            "(0 alone is the base model)"
        )
    if metric_names is None:
        from adaptcommand.metrics.scoring import metric_names as _names

        metric_names = set(_names())
    metric = config["routing"]["metric"]
    if metric not in metric_names or metric.endswith("numeric_mae"):
        problems.append(
            f"routing.metric = {metric!r}: not a per-persona metric where higher is better "
            f"(one of {sorted(m for m in metric_names if not m.endswith('numeric_mae'))})"
        )
    unknown = [c for c in config["routing"]["candidates"] if c not in methods]
    if "routing" in methods and unknown:
        problems.append(
            f"routing.candidates = {config['routing']['candidates']!r}: {unknown} are not in "
            "eval.methods (routing chooses among evaluated methods)"
        )
    if problems:
        raise ConfigError("config:\n  " + "\n  ".join(problems))
