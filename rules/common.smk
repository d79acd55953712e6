# Config validation, the persona list and the input functions shared by the rules.
import os

from snakemake.utils import validate

validate(config, schema="../workflow/schemas/config.schema.yaml")

if config["split"]["train_frac"] + config["split"]["val_frac"] >= 1:
    raise ValueError(
        "config: split.train_frac + split.val_frac must be < 1 (the rest is test)"
    )

N_PERSONAS = config["data"]["n_personas"]
N_EVALUATED = config["personas"]["evaluate"] or N_PERSONAS
if N_EVALUATED > N_PERSONAS:
    raise ValueError(
        f"config: personas.evaluate={N_EVALUATED} > data.n_personas={N_PERSONAS}"
    )
PERSONAS = [f"persona_{i:03d}" for i in range(N_EVALUATED)]
PERSONA_CSV = ",".join(PERSONAS)
METHODS = config["eval"]["methods"]
RES = config["resources"]

CLEAN = "data/cleaned/dialogs_clean.jsonl"
SPLITS = "data/splits/edgesplits.json"


wildcard_constraints:
    persona_id=r"persona_\d{3}",
    split="val|test",
    method="|".join(METHODS),


def script_file(name):
    """Absolute path of a rule script, also listed as an input so edits re-run the rule."""
    return os.path.join(workflow.basedir, "workflow", "scripts", name)


def base_model_input():
    """The base model directory when the workflow builds it (demo); nothing for a Hub id."""
    return [config["model"]["base"]] if config["model"]["build_demo_base"] else []


def prompt_params():
    """Every prompt setting, as stable scalars: a change re-runs training and evaluation."""
    p = config["prompt"]
    return dict(
        system=p["system"],
        persona_in_system=p["persona_in_system"],
        include_context=p["include_context"],
        context_messages=p["context_messages"],
        max_length=p["max_length"],
    )


def lora_params(method):
    """A LoRA recipe as stable scalars (+ the seed)."""
    c = config["train"][method]
    return dict(
        r=c["r"],
        alpha=c["alpha"],
        dropout=c["dropout"],
        target_modules=c["target_modules"],
        lr=c["lr"],
        epochs=c["epochs"],
        batch_size=c["batch_size"],
        warmup_ratio=c.get("warmup_ratio", 0.1),
        weight_decay=c.get("weight_decay", 0.0),
        seed=config["train"]["seed"],
    )


def gpu_resources(runtime_key):
    return dict(
        gpu=1, mem_mb=RES.get("gpu_mem_mb", 16000), runtime=RES.get(runtime_key, 60)
    )


# What each evaluated method needs: adapter directories and, per persona, which one it uses.
def method_adapters(method):
    """{adapter key: directory}; keys are persona ids for per-persona methods, else one shared key."""
    if method == "base":
        return {}
    if method == "unified":
        return {"unified": "models/unified"}
    if method == "persona":
        return {p: f"models/persona/{p}" for p in PERSONAS}
    raise ValueError(f"unknown method {method!r}")


def eval_inputs(wildcards):
    adapters = method_adapters(wildcards.method)
    return dict(
        dialogs=CLEAN,
        splits=SPLITS,
        targets=f"results/eval/{wildcards.split}/targets.jsonl",
        base=base_model_input(),
        adapters=list(adapters.values()),
        code=script_file("evaluate.py"),
    )


def adapter_keys(wildcards):
    return ",".join(method_adapters(wildcards.method))


def method_benchmarks(method, split="test"):
    """The benchmark files of every job that produced `method`'s results (for the cost panel)."""
    files = [f"results/benchmarks/evaluate/{split}_{method}.tsv"]
    if method == "unified":
        files.append("results/benchmarks/train_unified.tsv")
    if method == "persona":
        files += [f"results/benchmarks/train_persona/{p}.tsv" for p in PERSONAS]
    return files
