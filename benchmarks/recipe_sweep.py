"""A small validation sweep of adapter recipes, run once to choose the demo's `train.*` settings.

Run in a workflow directory where the demo has produced its data and base model (and
models/unified/seed<s>/all for recipes trained on the unified model):

    python benchmarks/recipe_sweep.py --workdir DIR --method persona --personas 4 \
        --grid r=8,16 lr=0.001,0.003 'target_modules=attn;all'

For every combination of the grid (on top of the recipe in the config) it trains the method's adapter
on each of the first N personas' TRAIN split exactly as the workflow does (`train.lora.train_lora_adapter`:
early stopping on val loss, best epoch restored), then scores it with the evaluation harness on the same
personas' VAL targets. It prints, per recipe, the mean best val loss, the epochs it ran and stopped at,
and val parameter F1 on routine and stated turns, and writes them as JSON with --json. Nothing here
reads test data: selection is on val only.

Grid values: numbers as numbers; target_modules options are separated by ";" and may be `attn`
(q,k,v,o), `all` (+ gate, up, down) or a comma list ("q_proj,v_proj"). `--method` is a `train.*`
section: persona, hybrid (on the merged unified model) and prefix are trained per persona; unified and
cluster on all N personas together.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

MODULES = {
    "attn": "q_proj,k_proj,v_proj,o_proj",
    "all": "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
}
PER_PERSONA = ("persona", "hybrid", "prefix")


def parse_grid(items: list[str]) -> list[dict]:
    axes = {}
    for item in items:
        key, _, values = item.partition("=")
        parsed = []
        for v in values.split(";" if key == "target_modules" else ","):
            if key == "target_modules":  # a named set or a comma list of module names
                parsed.append(MODULES.get(v, v).split(","))
                continue
            try:
                parsed.append(int(v) if v.isdigit() else float(v))
            except ValueError:
                parsed.append(v)
        axes[key] = parsed
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True, type=Path)
    ap.add_argument("--configfile", default=str(Path(__file__).parents[1] / "config" / "demo.yaml"))
    ap.add_argument("--method", required=True, help="train.* section: persona, hybrid, prefix, unified, ...")
    ap.add_argument("--personas", type=int, default=4, help="first N personas")
    ap.add_argument("--grid", nargs="*", default=[], help="key=v1,v2 ... (target_modules: attn;all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from adaptcommand.config_checks import load_config
    from adaptcommand.data.io import load_dialogs, load_splits, write_jsonl_atomic
    from adaptcommand.data.splits import split_dialogs
    from adaptcommand.evaluate.run import evaluate_method
    from adaptcommand.evaluate.targets import eval_targets
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.settings import Generation, Scoring, recipe_from
    from adaptcommand.train.lora import train_lora_adapter

    repo = Path(__file__).parents[1]
    cfg = load_config(repo / "config" / "config.yaml", args.configfile, workflow_dir=repo)
    wd = args.workdir.resolve()
    dialogs_path, splits_path = wd / "data/cleaned/dialogs_clean.jsonl", wd / "data/splits/edgesplits.json"
    base = str(wd / cfg["model"]["base"])
    splits = load_splits(splits_path)
    personas = sorted(splits["personas"])[: args.personas]
    section = "prefix" if args.method == "prefix" else args.method
    merge = str(wd / f"models/unified/seed{cfg['train']['seeds'][0]}/all") if args.method == "hybrid" else ""
    pc = PromptConfig.from_section(cfg["prompt"])
    val = split_dialogs(load_dialogs(dialogs_path), splits, "val", personas)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        targets_path = Path(tmp) / "val_targets.jsonl"
        write_jsonl_atomic(
            targets_path, eval_targets(val, cfg["eval"]["skip_assistant_turns"], pc.context_messages)
        )
        for point in parse_grid(args.grid) or [{}]:
            recipe = recipe_from({**cfg["train"][section], **point}, f"train.{section}")
            start = time.perf_counter()
            groups = [[p] for p in personas] if args.method in PER_PERSONA else [personas]
            routes, logs = {}, []
            for i, group in enumerate(groups):
                out = Path(tmp) / f"adapter{i}"
                logs.append(
                    train_lora_adapter(
                        base,
                        str(dialogs_path),
                        str(splits_path),
                        group,
                        pc,
                        recipe,
                        cfg["train"]["seeds"][0],
                        out,
                        merge=merge,
                    )
                )
                routes.update({p: str(out) for p in group})
            outs = {k: str(Path(tmp) / f"{k}.out") for k in ("predictions", "per_persona", "metrics")}
            summary = evaluate_method(
                method=args.method,
                split="val",
                base=base,
                prompt=pc,
                generation=Generation(
                    max_new_tokens=cfg["eval"]["max_new_tokens"], batch_size=cfg["eval"]["batch_size"]
                ),
                scoring=Scoring.from_section(cfg["metrics"], "metrics"),
                routes=routes,
                merge=merge,
                dialogs_path=str(dialogs_path),
                splits_path=str(splits_path),
                targets_path=str(targets_path),
                out=outs,
            )
            macro = summary["macro"]
            row = {
                "recipe": point,
                "val_loss": sum(min(lg["val_loss"]) for lg in logs) / len(logs),
                "val_loss_epoch0": sum(lg["val_loss"][0] for lg in logs) / len(logs),
                "best_epochs": [lg["best_epoch"] for lg in logs],
                "epochs_run": [len(lg["val_loss"]) - 1 for lg in logs],
                "val_routine_param_f1": macro["routine_param_f1"],
                "val_stated_param_f1": macro["stated_param_f1"],
                "val_similarity": macro["similarity"],
                "seconds": round(time.perf_counter() - start, 1),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
            for d in Path(tmp).glob("adapter*"):
                shutil.rmtree(d)
    print(f"\n{args.method} on {len(personas)} personas (val only); config {args.configfile}")
    print(
        "| recipe | val loss (epoch 0) | best epochs | routine param F1 | stated param F1 | similarity | s |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: r["val_loss"]):
        print(
            f"| {r['recipe']} | {r['val_loss']:.3f} ({r['val_loss_epoch0']:.3f}) | {r['best_epochs']} | "
            f"{r['val_routine_param_f1']:.3f} | {r['val_stated_param_f1']:.3f} | {r['val_similarity']:.3f} | "
            f"{r['seconds']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
