# Config validation, the persona list and the input functions shared by the rules.
import hashlib
import json
import os
import re
from pathlib import Path

from adaptcommand.config_checks import validated_config
from adaptcommand.personas import persona_sets
from adaptcommand.schema import RAW_FILES

# The method table (workflow/methods.yaml) says which methods and controls exist; the config's
# `variants` add to it. The schema (types, ranges, defaults), then what a schema cannot say
# (integers written as floats, module names, orderings, sizes against the number of personas, ...):
# every problem is reported before any job starts.
METHOD_TABLE = validated_config(config, workflow.basedir)


N_PERSONAS = config["data"]["n_personas"]
# PERSONAS: the known personas, which everything learns from and the main comparison scores;
# NEW_USERS (personas.cold_start): the last personas of the dataset, held out of everything that
# learns and evaluated as new users (rules/cold_start.smk).
PERSONAS, NEW_USERS = persona_sets(
    N_PERSONAS, config["personas"]["evaluate"], config["personas"]["cold_start"]
)
METHODS = config["eval"]["methods"]
# The methods that can serve a new user without training on them (table field cold_start).
NEW_USER_METHODS = [
    m for m in METHODS if NEW_USERS and METHOD_TABLE[m]["cold_start"] != "none"
]
# Controls are scored exactly like methods but are never methods (labelled in the comparison).
CONTROLS = config["eval"]["controls"]
SCORED = METHODS + CONTROLS
RES = config["resources"]

# Per-persona adapters are trained in packs: one job trains the adapters of `resources.pack_size`
# consecutive personas (0 = all) with the imports and the base model loaded once; each adapter is
# exactly what a job of its own would train. A pack's output directory <kind>/<pack>/ holds one
# adapter directory per member, <kind>/<pack>/<persona_id>/. A pack of one persona is named after
# it (models/persona/persona_007/persona_007/); a larger one "<first>-<last>".
PACK_SIZE = RES["pack_size"] or len(PERSONAS)
PACKS = {
    chunk[0] if len(chunk) == 1 else f"{chunk[0]}-{chunk[-1]}": chunk
    for chunk in (
        PERSONAS[i : i + PACK_SIZE] for i in range(0, len(PERSONAS), PACK_SIZE)
    )
}
PACK_OF = {p: pack for pack, members in PACKS.items() for p in members}
# <kind>/<pack>/<member>: a persona in a persona pack, or a cluster in a cluster pack (cluster.smk).
PACK_MEMBER = re.compile(
    r"(.+/(?:persona_\d{3}(?:-persona_\d{3})?|c\d+(?:-c\d+)?))/(?:persona_\d{3}|c\d+)"
)


def pack_members(wildcards):
    """The personas of pack `wildcards.pack` (the rule scripts' params.pack)."""
    return PACKS[wildcards.pack]


def pack_benchmarks(rule):
    """Benchmark files of every pack job of a per-persona training rule."""
    return [f"results/benchmarks/{rule}/{pack}.tsv" for pack in PACKS]


def persona_adapters(kind_dir, of=None):
    """{persona: its adapter directory inside the pack that trained it}, e.g. models/persona/<pack>/<p>;
    of(persona) picks whose adapter a persona gets (default: its own)."""
    of = of or (lambda p: p)
    return {p: f"{kind_dir}/{PACK_OF[of(p)]}/{of(p)}" for p in PERSONAS}


def adapter_output(adapter_dir):
    """The Snakemake output an adapter directory belongs to: its pack for a per-persona or per-cluster
    adapter."""
    m = PACK_MEMBER.fullmatch(adapter_dir)
    return m.group(1) if m else adapter_dir


CLEAN = "data/cleaned/dialogs_clean.jsonl"
SPLITS = "data/splits/edgesplits.json"
# The new users' dialogues (read by their evaluation only), splits and character texts.
NEW_DIALOGS = "data/cold_start/dialogs_clean.jsonl"
NEW_SPLITS = "data/cold_start/splits.json"
NEW_CHARACTERS = "data/cold_start/characters.json"
# The evaluation sets: val and test of the known personas; cold_start = the new users' test split.
COLD = "cold_start"


def eval_data(wildcards):
    """{dialogs, splits}: the files of the personas of evaluation set `wildcards.split`."""
    if wildcards.split == COLD:
        return dict(dialogs=NEW_DIALOGS, splits=NEW_SPLITS)
    return dict(dialogs=CLEAN, splits=SPLITS)


def data_split(wildcards):
    """The split of the data an evaluation set reads (the new users' test split for cold_start)."""
    return "test" if wildcards.split == COLD else wildcards.split


def eval_personas(wildcards):
    return NEW_USERS if wildcards.split == COLD else PERSONAS


wildcard_constraints:
    persona_id=r"persona_\d{3}",
    split=f"val|test|{COLD}",
    pack=r"persona_\d{3}(-persona_\d{3})?",
    method="|".join(SCORED),


def script_hash(name):
    """A digest of the script `name` of a rule, passed as a param: editing it re-runs its rule, while
    a finished run copied or moved elsewhere, or run from a clone at another path, has nothing to do
    (an absolute script path among the inputs would re-plan every job)."""
    path = os.path.join(workflow.basedir, "workflow", "scripts", name)
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


def raw_files(downloaded):
    """The three raw files clean_data reads: with data.source local the user's own files in
    data.local_dir (inputs, so an edit re-runs cleaning and everything after it, and errors name the
    user's file and line); otherwise `downloaded`, the raw_data rule's outputs (Hub or generator).
    """
    if config["data"]["source"] != "local":
        return dict(downloaded.items())
    local = config["data"]["local_dir"]
    return {Path(name).stem: os.path.join(local, name) for name in RAW_FILES}


# The workflow builds model.base itself: the demo's tiny Qwen2, or a GGUF converted (rules/base.smk).
BUILT_BASE = config["model"]["build_demo_base"] or bool(
    config["model"]["gguf"]["package"]
)


def base_model_input():
    """The base model directory when the workflow builds it (demo, GGUF); nothing for a Hub id."""
    return [config["model"]["base"]] if BUILT_BASE else []


def base_model_param():
    """params.base of a rule whose input `base` is base_model_input().

    A base model built by the workflow (demo) is an input: the param is derived from it (a path
    hard-coded in params is a lint; the input itself is tracked for re-runs). A Hub id or an
    external directory stays a plain value, so changing model.base re-runs the jobs.
    """
    if BUILT_BASE:
        return lambda wildcards, input: input.base[0]
    return config["model"]["base"]


def keyed(values):
    """`values` plus one keyed JSON string of them all.

    Snakemake's params rerun trigger compares a job's param VALUES without their names, so swapping
    equal values between settings (epochs 6 -> 8 when r is already 8) would not re-run anything.
    The extra `settings` string carries the names: every change re-runs the job.
    """
    return dict(values, settings=json.dumps(values, sort_keys=True))


def prompt_params():
    """Every prompt setting, as stable scalars: a change re-runs training and evaluation."""
    p = config["prompt"]
    values = dict(
        system=p["system"],
        persona_in_system=p["persona_in_system"],
        include_context=p["include_context"],
        context_messages=p["context_messages"],
        max_length=p["max_length"],
    )
    return dict(values, prompt_settings=json.dumps(values, sort_keys=True))


def eval_params():
    """Generation and scoring settings of every evaluation job."""
    values = dict(
        max_new_tokens=config["eval"]["max_new_tokens"],
        batch_size=config["eval"]["batch_size"],
        numeric_tolerance=config["metrics"]["numeric_tolerance"],
        minilm=config["metrics"]["minilm"],
    )
    return dict(values, eval_settings=json.dumps(values, sort_keys=True))


def recipe_params(section):
    """The adapter recipe train.<section> (LoRA: r, alpha, dropout, target_modules; prefix tuning:
    num_virtual_tokens, prefix_projection) and its training settings, as keyed params (+ the seed);
    num_virtual_tokens makes train_lora.py attach a prefix instead of a LoRA."""
    c = config["train"][section]
    if "num_virtual_tokens" in c:
        adapter = ("num_virtual_tokens", "prefix_projection")
    else:
        adapter = ("r", "alpha", "dropout", "target_modules")
    training = (
        "lr",
        "epochs",
        "patience",
        "batch_size",
        "warmup_ratio",
        "weight_decay",
    )
    return keyed(
        {k: c[k] for k in adapter + training} | {"seed": config["train"]["seed"]}
    )


def model_dir(method):
    """Where a trained method's adapters live: models/<method>, prefixes under models/prefix/<start
    model>/<scope> (a pack or cluster directory below it)."""
    e = METHOD_TABLE[method]
    if e["adapter"] == "prefix":
        return f"models/prefix/{e['start']}/{e['scope']}"
    return f"models/{method}"


def on_unified(method):
    """Trained on the frozen unified model (table `start: unified`)."""
    return METHOD_TABLE[method]["start"] == "unified"


def train_inputs(method):
    """Inputs of the training of the table's `method`: data, base, and unified if it starts there."""
    inputs = dict(dialogs=CLEAN, splits=SPLITS, base=base_model_input())
    return inputs | ({"unified": "models/unified"} if on_unified(method) else {})


def train_params(method):
    """Params of the training of `method`: its recipe (train.prefix for prefix tuning, else
    train.<method>), the prompt, the script digest, the base and the model it starts from.
    """
    section = "prefix" if METHOD_TABLE[method]["adapter"] == "prefix" else method
    recipe = recipe_params(section)
    start = (
        {"merge": lambda wildcards, input: input.unified} if on_unified(method) else {}
    )
    return dict(
        **recipe,
        **prompt_params(),
        code=script_hash("train_lora.py"),
        base=base_model_param(),
        **start,
    )


def pack_params():
    """Params of a per-persona training rule: its pack's members and how they are trained (also as a
    named string: Snakemake's params trigger compares values without their names)."""
    batched = RES["batched_training"]
    return dict(
        pack=pack_members, batched=batched, pack_settings=f"batched_training={batched}"
    )


def start_benchmarks(method):
    """The unified training's benchmark for methods that start from it (its cost is theirs too)."""
    return ["results/benchmarks/train_unified.tsv"] if on_unified(method) else []


def trained_methods(scope):
    """The methods of the table (variants included) whose adapters the generic training rule of
    `scope` (persona | cluster) trains: LoRA or prefix."""
    return [
        m
        for m, e in METHOD_TABLE.items()
        if e["role"] == "method"
        and e["scope"] == scope
        and e["adapter"] in ("lora", "prefix")
    ]


def gpu_resources(runtime_key):
    """Resources of a GPU rule, i.e. one that runs the model: the `gpu` key marks it (1 = one GPU per
    job; 0 on a CPU-only run such as the demo, which sbatch and the local scheduler then ignore), plus
    its memory, its runtime (minutes, per job: a Slurm group asks for the sum over its members) and,
    with resources.gpu_partition, the partition. Every GPU rule takes its resources from here, so the
    GPU partition reaches all of them and no CPU rule."""
    res = dict(
        gpu=1 if RES["gpu"] else 0,
        mem_mb=RES["gpu_mem_mb"],
        runtime=RES[runtime_key],
    )
    if RES["gpu_partition"]:
        res["slurm_partition"] = RES["gpu_partition"]
    return res


def model_cpu_resources():
    """CPU rules that load the base model (the merges): memory for it, their own runtime, and one
    `model_slot`, which profiles/slurm limits to 1 per submission so that a group of merges holds one
    model at a time (asking for one CPU and one job's memory, for the sum of their runtimes) instead of
    running all its members at once on as many CPUs."""
    return dict(
        mem_mb=RES["model_cpu_mem_mb"], runtime=RES["merge_runtime_min"], model_slot=1
    )


def is_gpu_rule(name):
    """A rule whose resources come from gpu_resources() (for the cost split)."""
    return "gpu" in workflow.get_rule(name).resources


# The method registry. Every evaluated method says, per persona, which adapter directory it uses
# ("" = none) and, optionally, an adapter merged into the base first (methods built on the frozen
# unified model). Rules files of later stages register their methods the same way.
METHOD_REGISTRY = {}


def register_method(name, routes, merge="", train_benchmarks=lambda: []):
    """routes(): {persona_id: adapter dir or ""}; train_benchmarks(): benchmark files of its training."""
    if name not in METHOD_TABLE:
        raise ValueError(
            f"register_method({name!r}): not in the method table workflow/methods.yaml"
        )
    METHOD_REGISTRY[name] = dict(
        routes=routes,
        merge=merge,
        train_benchmarks=train_benchmarks,
        new_user_routes=lambda: same_for_new_users(name),
        new_user_benchmarks=lambda: [],
    )


def serve_new_users(name, routes, benchmarks=lambda: []):
    """How method `name` serves the new users: routes() {new user: adapter dir}; benchmarks(): the
    benchmark files of the jobs that made them (rules/cold_start.smk)."""
    METHOD_REGISTRY[name].update(new_user_routes=routes, new_user_benchmarks=benchmarks)


def same_for_new_users(name):
    """A method with one adapter for everybody (table cold_start: same) gives it to new users too."""
    if METHOD_TABLE[name]["cold_start"] != "same":
        raise ValueError(
            f"{name} cannot serve new users (workflow/methods.yaml: cold_start "
            f"{METHOD_TABLE[name]['cold_start']!r}); new-user methods: {NEW_USER_METHODS}"
        )
    (adapter,) = set(METHOD_REGISTRY[name]["routes"]().values())
    return {p: adapter for p in NEW_USERS}


register_method("base", lambda: {p: "" for p in PERSONAS})
register_method(
    "unified",
    lambda: {p: "models/unified" for p in PERSONAS},
    train_benchmarks=lambda: ["results/benchmarks/train_unified.tsv"],
)


def check_method_registry():
    """After every rules file is included: the table and the registry name the same methods, and the
    rules the table names exist."""
    unregistered = [m for m in METHOD_TABLE if m not in METHOD_REGISTRY]
    if unregistered:
        raise ValueError(
            f"workflow/methods.yaml: no rules file registers {unregistered} (register_method)"
        )
    for name, entry in METHOD_TABLE.items():
        missing = [r for r in entry["rules"] if not workflow.is_rule(r)]
        if missing:
            raise ValueError(
                f"workflow/methods.yaml: {name}.rules names no rule {missing}"
            )


def method_routes(method, split="test"):
    """{persona: adapter dir or ""} of `method` on evaluation set `split`."""
    if method not in METHOD_REGISTRY:
        raise ValueError(f"eval.methods: no rule produces method {method!r}")
    if split == COLD:
        return METHOD_REGISTRY[method]["new_user_routes"]()
    return METHOD_REGISTRY[method]["routes"]()


def eval_inputs(wildcards):
    """What evaluating a method reads: data, targets, the base, the adapters its routes name, the
    model it is merged into, and for a method with retrieved history (table adapter lora+history) the
    split's retrieved exchanges."""
    routes = method_routes(wildcards.method, wildcards.split)
    merge = METHOD_REGISTRY[wildcards.method]["merge"]
    history = METHOD_TABLE[wildcards.method]["adapter"] == "lora+history"
    return dict(
        **eval_data(wildcards),
        targets=f"results/eval/{wildcards.split}/targets.jsonl",
        base=base_model_input(),
        merge=[merge] if merge else [],
        adapters=sorted({adapter_output(d) for d in routes.values() if d}),
        history=[f"results/history/{wildcards.split}.jsonl"] if history else [],
    )


def routes_param(wildcards):
    """{persona: adapter dir or ""}, sorted (a change of routing re-runs the evaluation)."""
    return dict(sorted(method_routes(wildcards.method, wildcards.split).items()))


def merge_param(wildcards):
    return METHOD_REGISTRY[wildcards.method]["merge"]


# The rule that evaluates a method (the others go through rule evaluate).


def method_benchmarks(method, split="test"):
    """The benchmark files of every job that produced `method`'s results on `split` (for the cost
    panel): its evaluation first, then its training. Every benchmark file is
    results/benchmarks/<rule>[/<wildcards>].tsv, so its rule (GPU or CPU) is read off its path.
    """
    if method == "routing":  # composed, not generated
        files = ["results/benchmarks/evaluate_routing/test.tsv"]
    else:
        files = [f"results/benchmarks/evaluate/{split}_{method}.tsv"]
    if split == COLD:  # what serving the new users took (assignment, merges, retrieval)
        files += METHOD_REGISTRY[method]["new_user_benchmarks"]()
        if METHOD_TABLE[method]["adapter"] == "lora+history":
            files.append(f"results/benchmarks/retrieve_history/{COLD}.tsv")
    return files + list(METHOD_REGISTRY[method]["train_benchmarks"]())


def benchmark_rule(path):
    """results/benchmarks/<rule>/... or results/benchmarks/<rule>.tsv -> <rule>."""
    return Path(path).relative_to("results/benchmarks").parts[0].removesuffix(".tsv")


def cost_files(method, split="test"):
    """{"gpu": benchmark files of the GPU jobs behind `method`, "cpu": those of its CPU jobs}."""
    files = method_benchmarks(method, split)
    gpu = [f for f in files if is_gpu_rule(benchmark_rule(f))]
    return {"gpu": gpu, "cpu": [f for f in files if f not in gpu]}


# ---- method cards (rule method_card, read by `adaptcommand chat`) ---------------------------------


def card_routes(method):
    """Every persona's adapter of `method`: the known personas', and the new users' where it serves them."""
    routes = dict(method_routes(method))
    if method in NEW_USER_METHODS:
        routes.update(method_routes(method, COLD))
    return routes


def card_inputs(wildcards):
    """A card's inputs: the method's models (and the data the chat reads); for routing the choice and
    the candidates' cards."""
    method = wildcards.method
    if METHOD_TABLE[method]["adapter"] == "routing":
        return dict(
            choices="results/routing/choices.json",
            cards=[
                f"results/methods/{c}.json" for c in config["routing"]["candidates"]
            ],
        )
    routes = card_routes(method)
    merge = METHOD_REGISTRY[method]["merge"]
    new = method in NEW_USER_METHODS
    return dict(
        base=base_model_input(),
        merge=[merge] if merge else [],
        adapters=sorted({adapter_output(d) for d in routes.values() if d}),
        dialogs=[CLEAN, SPLITS] + ([NEW_DIALOGS, NEW_SPLITS] if new else []),
    )


def card_param(wildcards):
    """The card's content (adaptcommand.chat.card), paths relative to the run directory."""
    method = wildcards.method
    about = METHOD_TABLE[method]["about"]
    if METHOD_TABLE[method]["adapter"] == "routing":
        return dict(method=method, about=about)
    routes = card_routes(method)
    new = set(NEW_USERS) if method in NEW_USER_METHODS else set()
    history = None
    if METHOD_TABLE[method]["adapter"] == "lora+history":
        first = config["history"]["cold_start_sessions"]
        history = dict(
            k=config["history"]["k"],
            query_turns=config["eval"]["skip_assistant_turns"] + 1,
            minilm=config["metrics"]["minilm"],
            # (the pool's dialogues are in the persona's `characters` file)
            pools={
                p: (
                    dict(splits=NEW_SPLITS, pool_sessions=first)
                    if p in new
                    else dict(splits=SPLITS, pool_sessions=0)
                )
                for p in sorted(routes)
            },
        )
    prompt = {k: v for k, v in prompt_params().items() if k != "prompt_settings"}
    return dict(
        method=method,
        about=about,
        base=config["model"]["base"],
        merge=METHOD_REGISTRY[method]["merge"],
        routes=routes,
        characters={p: NEW_DIALOGS if p in new else CLEAN for p in sorted(routes)},
        prompt=prompt,
        max_new_tokens=config["eval"]["max_new_tokens"],
        history=history,
    )
