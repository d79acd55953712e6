"""Checks of the workflow config, run before any job starts.

`rules/common.smk` calls `validated_config` inside `refuse_config_errors()`: the schema (an unknown key
named with the closest known one), what a schema cannot say (`check_config`), settings the chosen mode
would ignore, and the user's own files and directories (never inside what the workflow writes). Every
problem found is one line of one `ConfigError` naming its key and value, e.g.
``config: train.persona.epochs = 4.0: must be an integer (write 4 if that is meant)``; Snakemake
then stops with exactly those lines (no traceback).

`python -m adaptcommand.config_checks [FILE ...]` checks config files the same way (config/config.yaml
with the files merged on top, as `snakemake --configfile FILE ...` does) and names the file and line
of a YAML syntax error, which Snakemake's own message does not.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adaptcommand import yamlfiles
from adaptcommand.layout import OUTPUT_DIRS
from adaptcommand.rundir import RunSetupError

__all__ = [
    "ConfigError",
    "QWEN2_LINEAR_MODULES",
    "variant_of",
    "check_config",
    "load_config",
    "read_yaml",
    "refuse_config_errors",
    "schema_problems",
    "user_path_problems",
    "validated_config",
    "with_variants",
]


def variant_of(methods: dict[str, dict]) -> list[str]:
    """The methods a variant may vary: the LoRAs that the generic per-persona and per-cluster
    training rules train (rules/train.smk: rule train_<name> for every such
    method of the table, variants included; their recipe) and the merges (rules/merge.smk: their
    merge settings). Prefix methods share one recipe (train.prefix)."""
    return [
        m
        for m, e in methods.items()
        if e["role"] == "method"
        and (e["adapter"] == "lora" and e["scope"] in ("persona", "cluster") or e["adapter"] == "merge")
    ]


# The merge combinations that keep only part of each update: they need `density`, the others refuse it.
PRUNING_COMBINATIONS = ("ties_svd", "dare_ties_svd")


def merge_problems(merge: dict, where: str) -> list[str]:
    """What PEFT cannot combine as the merge section `merge` (at config key `where`) says: a pruning
    combination (TIES, DARE) without the share of values it keeps, or `density` with a combination
    that keeps every value (cat, svd), where PEFT would silently ignore it."""
    combination, density = merge["combination"], merge.get("density")
    if combination in PRUNING_COMBINATIONS and density is None:
        kept = "the share of values kept (0 < d <= 1)"
        return [f"{where}.combination = {combination}: needs {where}.density, {kept}"]
    if combination not in PRUNING_COMBINATIONS and density is not None:
        return [
            f"{where}.density = {density}: {combination} keeps every value of the updates; density is for "
            f"{' / '.join(PRUNING_COMBINATIONS)}"
        ]
    return []


# The linear layers of a Qwen2 decoder layer (the real Qwen2.5 and the demo's tiny Qwen2 alike, and
# of a Llama one: SmolLM2, tests/test_real_model.py;
# tests/test_config_checks.py compares this with the modules of a model built from the demo config).
# PEFT silently trains only the names that exist, so a typo would quietly change the recipe.
QWEN2_LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def validated_config(
    config: dict, workflow_dir: str | os.PathLike, *, workdir: str | os.PathLike | None = None
) -> dict[str, dict]:
    """What rules/common.smk does with the config before anything else: the schema (one line per
    problem, `schema_problems`), then Snakemake's validation, which fills in the defaults, the
    config's variants added to the method table (config["train"] gets their recipes),
    `check_config` and, given the run's working directory `workdir` (the workflow passes its own), the
    user's paths relative to it (`user_path_problems`). Changes `config` in place; returns the method
    table, variants included. Raises `ConfigError` on the first failing stage, naming every problem."""
    import yaml
    from snakemake.utils import validate

    from adaptcommand.methods import load_methods

    root = Path(workflow_dir)
    methods = load_methods(root / "workflow" / "methods.yaml")
    schema_path = root / "workflow" / "schemas" / "config.schema.yaml"
    schema = yaml.safe_load(schema_path.read_text())
    problems = schema_problems(config, schema)
    if problems:
        raise ConfigError(_lines(problems))
    validate(config, schema=str(schema_path))
    methods, config["train"] = with_variants(config, methods, schema)
    check_config(config, schema, methods)
    problems = [] if workdir is None else user_path_problems(config, workdir)
    if problems:
        raise ConfigError(_lines(problems))
    return methods


def _lines(problems: list[str]) -> str:
    return "\n".join(f"config: {p}" for p in problems)


@contextlib.contextmanager
def refuse_config_errors() -> Iterator[None]:
    """Turn a `ConfigError` (or a run directory's refusal of another setup, `rundir.RunSetupError`)
    into the end of the process with exactly its message (exit status 1): in the Snakefile,
    Snakemake would print its own line and a traceback first."""
    try:
        yield
    except (ConfigError, RunSetupError) as exc:
        raise SystemExit(str(exc)) from None


def read_yaml(path: str | os.PathLike) -> dict:
    """A YAML config file as a dict; `ConfigError` naming ``file:line:column`` on a syntax error and
    the file when it cannot be read or is not a mapping of keys."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start + 1})") from None
    try:
        data = yamlfiles.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and start is not mark:
            what += f" ({context} from line {start.line + 1}, column {start.column + 1})"
        elif context:
            what += f" ({context})"
        raise ConfigError(f"{where}: YAML syntax error: {what}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config file is a mapping of keys (data: ..., train: ...), not a {type(data).__name__}"
        )
    return data


def load_config(*paths: str | os.PathLike, workflow_dir: str | os.PathLike | None = None) -> dict:
    """The YAML files merged in order, as `snakemake --configfile A B` merges them onto the Snakefile's
    configfile: nested mappings merge key by key, any other value (lists included) replaces the
    earlier one. `load_config("config/config.yaml", "config/demo.yaml")` is the demo's config. With
    `workflow_dir` (the repository) it is also checked and completed as the workflow does it
    (`validated_config`: the schema's defaults filled in), so its sections build settings."""

    def merge(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    config: dict = {}
    for path in paths:
        merge(config, read_yaml(path))
    if workflow_dir is not None:
        validated_config(config, workflow_dir)
    return config


class ConfigError(ValueError):
    """The config cannot run as meant; the message has one line per problem, each naming its key."""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def schema_problems(config: dict, schema: dict) -> list[str]:
    """The config's violations of the JSON schema, one line each naming the key: an unknown key with
    the closest known one (``trian: unknown key (did you mean train?)``), a wrong value with the rule
    it breaks (``train.persona.lr = 1000: 1000 is greater than the maximum of 1``). Empty if valid."""
    import jsonschema

    problems = []
    errors = jsonschema.Draft202012Validator(schema).iter_errors(config)
    for error in sorted(errors, key=lambda e: [str(part) for part in e.absolute_path]):
        where = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(known), key=str):
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
                problems.append(f"{where + '.' if where else ''}{key}: unknown key ({hint})")
        elif error.validator == "required":
            problems.append(f"{where or 'top level'}: {error.message}")
        elif (known := _siblings(schema, list(error.absolute_path))) is not None:
            # a key only an open mapping's catch-all takes (train.<new method>): most likely a typo
            key = error.absolute_path[-1]
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
            problems.append(f"{where}: unknown key ({hint})")
        else:
            problems.append(f"{where or 'top level'} = {_short(error.instance)}: {error.message}")
    return problems


def _siblings(schema: dict, path: list) -> list[str] | None:
    """The named keys beside the last of `path` when that key is none of them (it reached the mapping's
    `additionalProperties` schema, e.g. train.seed against train.<method recipe>); else None."""
    if len(path) < 1:
        return None
    node = schema
    for part in path[:-1]:
        node = node.get("properties", {}).get(str(part))
        if not isinstance(node, dict):
            return None
    known = list(node.get("properties", {}))
    return (
        known
        if known and str(path[-1]) not in known and isinstance(node.get("additionalProperties"), dict)
        else None
    )


def _schema_default(schema: dict, key: str) -> Any:
    node = schema
    for part in key.split("."):
        node = node["properties"][part]
    return node.get("default")


# Settings that one mode reads and the others ignore: (key, the key that chooses the mode, whether the
# chosen mode reads it). A value other than the schema's default while the mode ignores it is an error:
# the run would silently do something else than the config says (e.g. the demo's synthetic data while
# data.local_dir names the user's files).
MODE_SETTINGS: tuple[tuple[str, str, Any], ...] = (
    ("data.local_dir", "data.source", lambda c: c["data"]["source"] == "local"),
    ("data.hf_dataset", "data.source", lambda c: c["data"]["source"] == "huggingface"),
    ("data.synthetic_seed", "data.source", lambda c: c["data"]["source"] == "synthetic"),
    ("history.cold_start_sessions", "personas.cold_start", lambda c: c["personas"].get("cold_start", 0) > 0),
)

_MODE_HINTS = {
    "data.local_dir": "set data.source: local to read your files from it, or remove data.local_dir",
    "data.hf_dataset": "set data.source: huggingface to download it, or remove data.hf_dataset",
    "data.synthetic_seed": "set data.source: synthetic to generate data, or remove data.synthetic_seed",
    "history.cold_start_sessions": "set personas.cold_start: N for new users, or remove it",
}


def _get(config: dict, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = value[part]
    return value


def _ignored_settings(config: dict, schema: dict) -> Iterator[str]:
    for key, mode_key, reads in MODE_SETTINGS:
        value, default = _get(config, key), _schema_default(schema, key)
        if value in ("", None, default) or reads(config):
            continue
        hint = _MODE_HINTS.get(key, f"remove it, or change {mode_key}")
        mode = _get(config, mode_key)
        yield f"{key} = {_short(value)} is set, but {mode_key} = {mode!r} ignores it: {hint}"
    model = config["model"]
    if model["build_demo_base"]:
        base = str(model["base"])
        parts = Path(base).parts
        if Path(base).is_absolute() or parts[:1] != ("models",) or len(parts) < 2 or ".." in parts:
            yield (
                f"model.base = {base!r}: with model.build_demo_base = true the workflow builds a tiny demo "
                "model in this directory (and deletes it to build it again): use a directory under "
                "models/ (models/base), or set model.build_demo_base: false to load this model"
            )


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
    if node.get("type") == "array" and isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):  # e.g. train.seeds: [1.0, 2]
            yield from _integer_fields(node["items"], item, root, f"{where}.{i}")
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

    from adaptcommand.methods import derived_rules, recipe_section

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
        if methods[of]["adapter"] == "merge" or spec.get("merge"):
            problems += _merge_variant(name, spec, methods, config, schema, table)
            continue
        unknown = sorted(set(overrides) - set(lora["properties"]))
        if unknown:
            problems.append(
                f"{where}.train: unknown key(s) {unknown} (a LoRA recipe has {sorted(lora['properties'])})"
            )
            continue
        recipe = {**config["train"][recipe_section(of, methods[of])], **overrides}
        problems += [
            f"{where}.train.{'.'.join(map(str, e.path)) or '?'}: {e.message}"
            for e in jsonschema.Draft202012Validator(lora).iter_errors(recipe)
        ]
        problems += [f"{where}.train.{p}" for p in _integer_fields(lora, recipe, schema)]
        train[name] = recipe
        about = spec.get("about") or f"{of} with {', '.join(f'{k}={v}' for k, v in overrides.items())}"
        table[name] = {**methods[of], "about": about, "recipe": ""}  # its recipe: train.<name>
        table[name]["rules"] = derived_rules(name, table)  # train_<of> becomes train_<name>
    if problems:
        raise ConfigError(_lines(problems))
    return table, train


def _merge_variant(name: str, spec: dict, methods: dict, config: dict, schema: dict, table: dict) -> list:
    """A variant of a merge method: its merge keys replace the run's (`merge_problems`); added to
    `table` with them (its `merge` field: what rules/merge.smk passes on) unless a problem is found."""
    import jsonschema

    from adaptcommand.methods import derived_rules

    where, of, overrides = f"variants.{name}", spec["of"], spec.get("merge", {})
    if methods[of]["adapter"] != "merge":
        merges = ", ".join(m for m in variant_of(methods) if methods[m]["adapter"] == "merge")
        return [f"{where}.merge: {of} is not a merge (merge keys vary the merges: {merges})"]
    if spec.get("train"):
        return [f"{where}.train: {of} is a merge, it trains nothing (vary its merge keys: {where}.merge)"]
    if not overrides:
        return [f"{where}: no merge keys: the variant would be {of} again"]
    node = schema["properties"]["merge"]
    merge = {**config["merge"], **overrides}
    problems = [
        f"{where}.merge.{'.'.join(map(str, e.path)) or '?'}: {e.message}"
        for e in jsonschema.Draft202012Validator(node).iter_errors(merge)
    ]
    problems += merge_problems(merge, f"{where}.merge")
    if not problems:
        about = spec.get("about") or f"{of} with {', '.join(f'{k}={v}' for k, v in overrides.items())}"
        table[name] = {**methods[of], "about": about, "merge": dict(overrides)}
        table[name]["rules"] = derived_rules(name, table)
    return problems


def _cold_start_problems(config: dict, evaluated: dict[str, dict], n_known: int) -> list[str]:
    """New users: enough known personas for the merges that serve them (table field cold_start
    nearest_personas), and first sessions inside the train split for a method with history in its
    prompts (its kind's `history`). `evaluated`: the table entries of eval.methods."""
    from adaptcommand.experiment import train_sessions
    from adaptcommand.methods import has_history

    problems = []
    k = config["merge"]["neighbors_k"]
    nearest = [m for m, e in evaluated.items() if e["cold_start"] == "nearest_personas"]
    if nearest and 2 * k > n_known:
        problems.append(
            f"merge.neighbors_k = {k}: a new user's merge takes the {k} nearest of the {n_known} known "
            f"personas and chooses its weight on the next {k}: needs 2 x {k} <= {n_known} "
            f"({', '.join(nearest)})"
        )
    n_train = train_sessions(config)
    first = config["history"].get("cold_start_sessions", 1)
    if any(has_history(e) for e in evaluated.values()) and first > n_train:
        problems.append(f"history.cold_start_sessions = {first}: a persona has only {n_train} train sessions")
    return problems


def _budget_problems(config: dict, evaluated: dict[str, dict]) -> list[str]:
    """train.sessions (a user's history as a dimension): no budget beyond a persona's train split, no
    budget twice (N equal to the train split is `all`), and none a method cannot learn from: with 1
    session a train dialogue of a method with history in its prompts has no other session of its
    persona's to retrieve from."""
    from adaptcommand.experiment import train_sessions
    from adaptcommand.methods import has_history, kind_of

    full, sessions = train_sessions(config), config["train"].get("sessions", ["all"])
    where = (
        f"a persona has {full} train sessions (data.sessions_per_persona = "
        f"{config['data']['sessions_per_persona']} x split.train_frac = {config['split']['train_frac']})"
    )
    problems = [
        f"train.sessions: {n} is beyond the train split: {where}" for n in sessions if n != "all" and n > full
    ]
    if "all" in sessions and full in sessions:
        problems.append(f"train.sessions: {full} and all are the same budget ({where}): keep one")
    history = [m for m, e in evaluated.items() if has_history(e) and kind_of(e).trains]
    if history and 1 in sessions:
        problems.append(
            f"train.sessions: 1: {', '.join(history)} retrieve a train dialogue's exchanges from its "
            "persona's other train sessions, and with 1 session there are none: use budgets of 2 or more"
        )
    return problems


def _method_problems(config: dict, table: dict[str, dict], n_eval: int) -> list[str]:
    """What the evaluated methods and controls need of the config, by their table fields (never their
    names):

    - scope cluster (their adapters are per cluster): fewer clusters (cluster.k, or cluster.k_min for
      the silhouette search) than evaluated personas;
    - the clustering job read without clusters of one's own (per-persona merges choose their neighbours
      by its persona similarity, `methods.reads_clustering`): a fixed cluster.k of at most the evaluated
      personas (the job fails on more; the search caps k itself);
    - per-persona merges (a kind that `merges`, scope persona): merge.neighbors_k other personas;
    - a kind that `borrows` another method's adapters: that method in eval.methods.
    """
    from adaptcommand.methods import kind_of, reads_clustering

    scored = [*config["eval"]["methods"], *config["eval"].get("controls", [])]
    scored = {m: table[m] for m in scored if m in table}  # unknown names are reported on their own
    methods = set(config["eval"]["methods"])
    problems = []
    cluster = config["cluster"]
    if any(e["scope"] == "cluster" for e in scored.values()):
        k_top = cluster["k"] or cluster["k_min"]
        if k_top >= n_eval:
            key = "cluster.k" if cluster["k"] else "cluster.k_min"
            problems.append(f"{key} = {k_top}: needs fewer clusters than the {n_eval} evaluated personas")
    elif cluster["k"] > n_eval and any(reads_clustering(e) for e in scored.values()):
        readers = [m for m, e in scored.items() if reads_clustering(e)]
        problems.append(
            f"cluster.k = {cluster['k']}: the clustering that {', '.join(readers)} read cannot make more "
            f"clusters than the {n_eval} evaluated personas"
        )
    neighbours = [m for m, e in scored.items() if kind_of(e).merges and e["scope"] == "persona"]
    if neighbours and config["merge"]["neighbors_k"] > n_eval - 1:
        problems.append(
            f"merge.neighbors_k = {config['merge']['neighbors_k']}: only {n_eval - 1} other "
            f"personas are evaluated (personas.evaluate / data.n_personas) for the merges of "
            f"{', '.join(neighbours)}"
        )
    for name, entry in scored.items():
        borrowed = kind_of(entry).borrows
        if borrowed and borrowed not in methods:
            key = "eval.methods" if name in methods else "eval.controls"
            problems.append(f"{key} {name} needs {borrowed} in eval.methods")
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
    methods_table, methods_table_names = methods, set(methods)
    from adaptcommand.methods import kind_of, recipe_section

    no_recipe = [
        m for m, e in methods.items() if kind_of(e).trains and recipe_section(m, e) not in config["train"]
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

    problems += merge_problems(config["merge"], "merge")
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
    problems += _ignored_settings(config, schema)
    n_personas = data["n_personas"]
    n_new = config["personas"].get("cold_start", 0)
    n_eval = config["personas"]["evaluate"] or n_personas - n_new
    if n_eval + n_new > n_personas or n_eval < 1:
        what = f"personas.evaluate = {config['personas']['evaluate']}"
        if n_new:
            what += f" + personas.cold_start = {n_new} new users"
        problems.append(f"{what}: more personas than data.n_personas = {n_personas}")
    methods = set(config["eval"]["methods"])
    evaluated = {m: methods_table[m] for m in config["eval"]["methods"] if m in methods_table}
    if n_new:
        problems += _cold_start_problems(config, evaluated, n_eval)
    cluster = config["cluster"]
    if cluster["k_min"] > cluster["k_max"]:
        problems.append(
            f"cluster.k_min = {cluster['k_min']} > cluster.k_max = {cluster['k_max']}: "
            "the silhouette search needs k_min <= k_max"
        )
    problems += _method_problems(config, methods_table, n_eval)
    problems += _budget_problems(config, evaluated)
    if not any(scale > 0 for scale in config["merge"]["weight_scales"]):
        problems.append(
            f"merge.weight_scales = {config['merge']['weight_scales']}: needs a scale > 0 "
            "(0 alone is the base model)"
        )
    if metric_names is None:
        from adaptcommand.metrics.scoring import metric_names as _names

        metric_names = set(_names())
    compare = config["compare"]
    for key in ("headline", "second"):
        metric = compare[key]
        if metric not in metric_names or metric.endswith("numeric_mae"):
            problems.append(
                f"compare.{key} = {metric!r}: not a per-persona metric where higher is better "
                f"(one of {sorted(m for m in metric_names if not m.endswith('numeric_mae'))})"
            )
    positive = compare["positive_control"]
    for key, names in (
        ("references", compare["references"]),
        ("positive_control", [positive] if positive else []),
    ):
        unknown = [m for m in names if m not in methods_table_names]
        if unknown:
            problems.append(f"compare.{key}: {unknown} are not methods of workflow/methods.yaml")
    if positive and positive in methods_table_names and positive not in methods:
        problems.append(
            f"compare.positive_control = {positive!r}: not in eval.methods (evaluate it, or set "
            "compare.positive_control: '' to run without the check that the measurement sees an effect)"
        )
    if not set(compare["references"]) & methods:
        problems.append(
            f"compare.references = {compare['references']}: none of them is in eval.methods = "
            f"{config['eval']['methods']}, so no difference could be taken: evaluate one of them or "
            "name an evaluated method"
        )
    # the controls are differences to the model as it is: the method that learns nothing (adapter none)
    # and adds nothing to its prompts (retrieval and persona_prompt personalise without training)
    untrained = [m for m, e in methods_table.items() if e["adapter"] == "none" and not e["prompt"]]
    if (positive or config["eval"].get("controls")) and not set(untrained) & set(compare["references"]):
        untrained = " or ".join(untrained)
        problems.append(
            f"compare.references = {compare['references']}: the controls are differences to {untrained}: "
            f"keep {untrained} among the references"
        )
    elif (positive or config["eval"].get("controls")) and not set(untrained) & set(methods):
        checked = [positive] * bool(positive) + list(config["eval"].get("controls", []))
        untrained = " or ".join(untrained)
        problems.append(
            f"eval.methods = {config['eval']['methods']}: the controls {checked} are differences to "
            f"{untrained}, which is not evaluated: add {untrained} to eval.methods (or drop the "
            "controls: eval.controls: [], compare.positive_control: '')"
        )
    # methods that compose their candidates' predictions instead of generating (routing)
    composed = [m for m in evaluated if not kind_of(evaluated[m]).generates]
    if composed:
        untrained = [
            c for c in config["routing"]["candidates"] if methods_table.get(c, {}).get("adapter") == "none"
        ]
        if untrained:
            problems.append(
                f"routing.candidates: {untrained} learn nothing (no run per seed to route to); route among "
                "learned methods"
            )
        composing = [
            c
            for c in config["routing"]["candidates"]
            if c in methods_table and not kind_of(methods_table[c]).generates
        ]
        if composing:
            problems.append(
                f"routing.candidates: {composing} compose other methods' predictions (none of their own to "
                "route to); route among methods that generate"
            )
    if config["routing"]["default"] not in config["routing"]["candidates"]:
        problems.append(
            f"routing.default = {config['routing']['default']!r}: not one of routing.candidates "
            f"{config['routing']['candidates']}"
        )
    unknown = [c for c in config["routing"]["candidates"] if c not in methods]
    if composed and unknown:
        problems.append(
            f"routing.candidates = {config['routing']['candidates']!r}: {unknown} are not in "
            "eval.methods (routing chooses among evaluated methods)"
        )
    if problems:
        raise ConfigError(_lines(problems))


def _inside(path: Path, roots: dict[Path, str]) -> str | None:
    """The name of the root (resolved path -> name) that holds `path` (resolved), if any."""
    return next((name for root, name in roots.items() if path == root or root in path.parents), None)


def _local_dir_problems(value: str, where: Path) -> list[str]:
    """data.local_dir: a directory holding the three raw files, each a readable regular file."""
    from adaptcommand.schema import RAW_FILES

    key, needs = f"data.local_dir = {value!r}", f"it must hold {', '.join(RAW_FILES)}"
    if not where.exists():
        return [f"{key}: no such directory ({where}; {needs})"]
    if not where.is_dir():
        return [f"{key}: {where} is a file, not a directory ({needs})"]
    problems = []
    for name in RAW_FILES:
        path = where / name
        if not path.exists():
            problems.append(f"{key}: {path} is missing ({needs})")
            continue
        if not path.is_file():  # a directory, a FIFO (reading one would wait forever), ...
            problems.append(f"{key}: {path} is not a regular file")
            continue
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            problems.append(f"{key}: {path} cannot be read ({exc.strerror or exc})")
    return problems


def user_path_problems(config: dict, workdir: str | os.PathLike) -> list[str]:
    """The user's own files and directories (data.local_dir with data.source local, a local model.base
    the workflow does not build, metrics.minilm), relative to the workflow's working directory
    `workdir`: each must exist as meant, be readable, be written without `~`, and lie outside every
    directory the workflow writes to (`OUTPUT_DIRS`), where Snakemake would delete it. One line per
    problem, naming the key and the path."""
    work = Path(workdir).resolve()
    roots = {(work / d).resolve(): d for d in OUTPUT_DIRS}
    problems = []

    def outside_outputs(key: str, value: str, path: Path) -> bool:
        root = _inside(path.resolve(), roots)
        if root is None:
            return True
        example = " (e.g. data/edgewise)" if key == "data.local_dir" else ""
        problems.append(
            f"{key} = {value!r}: {path.resolve()} is inside {root}/, where the workflow writes its own "
            "files and Snakemake deletes them before writing them again: your files would be lost. Move "
            f"them to a directory of their own{example} and set {key} to it"
        )
        return False

    def tilde(key: str, value: str) -> bool:
        if not value.startswith("~"):
            return False
        problems.append(
            f"{key} = {value!r}: '~' is not expanded in a config; write the full path "
            f"({os.path.expanduser(value)})"
        )
        return True

    data = config["data"]
    local = data.get("local_dir") or ""
    if data["source"] == "local" and local and not tilde("data.local_dir", local):
        where = work / local
        if outside_outputs("data.local_dir", local, where):
            problems += _local_dir_problems(local, where)
    model = config["model"]
    base = str(model["base"])
    built = model["build_demo_base"] or (model.get("gguf") or {}).get("package")  # the workflow writes it
    if not built and not tilde("model.base", base) and (work / base).exists():
        outside_outputs("model.base", base, work / base)
    minilm = config.get("metrics", {}).get("minilm") or ""
    if minilm and not tilde("metrics.minilm", minilm) and (work / minilm).exists():
        outside_outputs("metrics.minilm", minilm, work / minilm)
    return problems


def main(argv: list[str] | None = None) -> int:
    """`python -m adaptcommand.config_checks [FILE ...]`: the workflow's config/config.yaml with the
    FILEs merged on top (as `snakemake --configfile FILE ...`), checked as the workflow checks it;
    exit status 1 with one line per problem (a YAML syntax error: file:line:column)."""
    import argparse
    import sys

    repo = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(prog="python -m adaptcommand.config_checks", description=main.__doc__)
    parser.add_argument("files", nargs="*", help="config files merged onto config/config.yaml, in order")
    parser.add_argument(
        "--workflow",
        default=str(repo if (repo / "Snakefile").is_file() else Path.cwd()),
        help="the workflow's directory (Snakefile, config/, workflow/); default: this checkout",
    )
    parser.add_argument("--directory", default=".", help="the run's working directory (default: here)")
    args = parser.parse_args(argv)
    try:
        config = load_config(Path(args.workflow) / "config" / "config.yaml", *args.files)
        methods = validated_config(config, args.workflow, workdir=args.directory)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"config ok: {len(config['eval']['methods'])} methods of {len(methods)} in the table")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
