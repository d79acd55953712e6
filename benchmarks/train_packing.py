"""Per-persona LoRA training of N personas three ways, with the same recipe, data and seed:

  (a) separate: one process per persona (`--jobs` at a time, one thread each), as the workflow ran
      per-persona jobs before packing: every process imports torch/transformers/peft and loads the base;
  (b) packed: one process, the personas one after another (`train_adapters`, what
      `resources.pack_size` does), imports and base load paid once;
  (c) packed + batched: one process, every persona's rows in the same batches, each row through its
      own persona's LoRA (`train_adapters(..., batched=True)`, adaptcommand.train.batched);
  (d) packed over forked workers: one job, imports and base load paid once, then --threads forked
      single-thread workers each training personas one after another (`train_adapters(...,
      workers=N)`, what a CPU pack job with N threads does, adaptcommand.parallel);
  (e) packed + batched over forked workers: each worker trains its share of the personas batched.

`--sample K` runs (a), (b) and (d) on the first K personas only and projects their times to all N
(200 separate processes do not fit a short GPU check); `--batch-group G` batches (c) and (e) G
personas at a time (what `resources.pack_size: G` with `batched_training` does: GPU memory).
(b) and (c) use --threads torch threads in one process; (a), (d) and (e) --threads processes of one
thread each. It checks the adapters agree to float rounding, prints each variant's wall time and a
last line `speed-up: <best of (b)-(e) over (a)>x`; exit status 1 below --min-speedup. On a GPU (d) and
(e) are skipped (CUDA cannot be forked; the batched variant is the GPU's).

    python benchmarks/train_packing.py --personas 8 --workdir <a finished demo run>
    python benchmarks/train_packing.py --personas 8 --device cuda --geometry qwen2.5-0.5b

Without --workdir the demo base is built in --base (if missing) and the demo's synthetic data is
written to a temporary directory. `--geometry qwen2.5-0.5b` trains on a randomly initialised model of
Qwen2.5-0.5B-Instruct's shape with the demo tokenizer (throughput only, for a GPU). Results and the
projected GPU hours of the full experiment: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--personas", type=int, default=8)
    ap.add_argument("--config", default=str(REPO / "config" / "demo.yaml"), help="overlay on config.yaml")
    ap.add_argument("--recipe", default="persona", help="the train.<recipe> to use (a LoRA)")
    ap.add_argument("--workdir", help="a finished demo run: its models/base, dialogues and splits")
    ap.add_argument("--base", default="/tmp/demo_base", help="demo base model dir (built if missing)")
    ap.add_argument("--epochs", type=int, default=0, help="override the recipe's epoch cap (0 = keep)")
    ap.add_argument("--jobs", type=int, default=2, help="(a): processes at a time, one thread each")
    ap.add_argument("--threads", type=int, default=2, help="(b), (c): torch threads; (d), (e): workers")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--geometry", choices=["demo", "qwen2.5-0.5b"], default="demo")
    ap.add_argument(
        "--sample",
        type=int,
        default=0,
        help="(a) and (b) on the first K personas only, their times projected to all (0 = all): 200 "
        "separate processes do not fit a short GPU check",
    )
    ap.add_argument(
        "--batch-group",
        type=int,
        default=0,
        help="(c): the personas batched G at a time, one group after another (resources.pack_size G + "
        "batched_training; 0 = all at once), for GPU memory",
    )
    ap.add_argument("--min-speedup", type=float, default=2.0)
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: train this persona alone (variant a)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def train(spec: dict, personas: list[str], out: Path, batched: bool, workers: int = 1) -> float:
    """Train `personas`' adapters into out/<persona> in this process; returns the wall seconds."""
    start = time.perf_counter()
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.settings import recipe_from
    from adaptcommand.train.lora import train_adapters

    train_adapters(
        spec["base"],
        spec["dialogs"],
        spec["splits"],
        {p: [p] for p in personas},
        PromptConfig.from_section(spec["prompt"]),
        recipe_from(spec["recipe"]),
        spec["seed"],
        {p: out / p for p in personas},
        batched=batched,
        workers=workers,
    )
    return time.perf_counter() - start


def prepare(args, tmp: Path) -> dict:
    """The base model, dialogues, splits, recipe and prompt the three variants share."""
    from adaptcommand.config_checks import load_config

    cfg = load_config(REPO / "config" / "config.yaml", args.config, workflow_dir=REPO)
    recipe = dict(cfg["train"][args.recipe])
    if args.epochs:
        recipe["epochs"] = args.epochs
    prompt = dict(cfg["prompt"])
    if args.workdir:
        work = Path(args.workdir)
        base, dialogs, splits = (
            str(work / "models/base"),
            str(work / "data/cleaned/dialogs_clean.jsonl"),
            str(work / "data/splits/edgesplits.json"),
        )
    else:
        from adaptcommand.data.clean import clean
        from adaptcommand.data.io import load_dialogs, write_json_atomic
        from adaptcommand.data.splits import make_splits
        from adaptcommand.demo.synthetic import write_raw

        data = cfg["data"]
        data["n_personas"] = max(data["n_personas"], args.personas)  # data for every persona trained
        write_raw(tmp / "raw", data["n_personas"], data["sessions_per_persona"], data["synthetic_seed"])
        dialogs = str(tmp / "dialogs.jsonl")
        clean(tmp / "raw", dialogs, data["n_personas"], data["sessions_per_persona"])
        splits = str(tmp / "splits.json")
        write_json_atomic(
            splits, make_splits(load_dialogs(dialogs), cfg["split"]["train_frac"], cfg["split"]["val_frac"])
        )
        base = args.base
        if not (Path(base) / "config.json").exists():
            from adaptcommand.demo.base import build_demo_base
            from adaptcommand.prompts import PromptConfig

            print(f"building the demo base model in {base} ...", file=sys.stderr, flush=True)
            build_demo_base(
                base,
                PromptConfig.from_section(prompt),
                cfg["model"]["demo"],
                seed=cfg["model"]["demo"]["seed"],
            )
    if args.geometry == "qwen2.5-0.5b":
        from adaptcommand.model.architecture import QWEN25_05B, build_model
        from adaptcommand.model.loading import load_tokenizer

        tok = load_tokenizer(base)
        model = build_model(tok, **{**QWEN25_05B, "vocab_size": max(len(tok), 1)}, seed=0)
        base = str(tmp / "qwen25-geometry")
        model.save_pretrained(base)
        tok.save_pretrained(base)
    return {
        "base": base,
        "dialogs": dialogs,
        "splits": splits,
        "recipe": recipe,
        "seed": cfg["train"]["seeds"][0],
        "prompt": prompt,
    }


def compare_adapters(a: Path, b: Path, personas: list[str]) -> float:
    """The largest absolute difference between the adapters in a/<p> and b/<p> (0.0 = bit equal)."""
    from safetensors.torch import load_file

    worst = 0.0
    for p in personas:
        x, y = load_file(a / p / "adapter_model.safetensors"), load_file(b / p / "adapter_model.safetensors")
        if x.keys() != y.keys():
            raise AssertionError(f"{p}: different adapter tensors")
        worst = max([worst] + [float((x[k].float() - y[k].float()).abs().max()) for k in x])
    return worst


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if args.one:  # a separate process of variant (a)
        import torch

        torch.set_num_threads(1)
        spec = json.loads(Path(args.spec).read_text())
        train(spec, [args.one], Path(spec["out"]), batched=False)
        return 0
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec = prepare(args, tmp)
        personas = [f"persona_{i:03d}" for i in range(args.personas)]
        print(
            f"{len(personas)} personas, recipe train.{args.recipe} (epochs <= {spec['recipe']['epochs']}, "
            f"patience {spec['recipe'].get('patience', 0)}), device {args.device}, geometry {args.geometry}",
            flush=True,
        )
        # (a) and the unbatched variants on a sample of the personas (projected to all of them), the
        # batched ones on all of them, --batch-group at a time; adapters compared on the sample.
        sample = personas[: args.sample] if 0 < args.sample < len(personas) else personas
        scale = len(personas) / len(sample)
        groups = [
            personas[i : i + (args.batch_group or len(personas))]
            for i in range(0, len(personas), args.batch_group or len(personas))
        ]
        times, measured = {}, {}
        # (a) one process per persona, --jobs at a time
        spec_file = tmp / "spec.json"
        spec_file.write_text(json.dumps({**spec, "out": str(tmp / "a")}))
        cmd = [sys.executable, __file__, "--spec", str(spec_file), "--device", args.device, "--one"]
        start = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            procs = list(
                pool.map(lambda p: subprocess.run([*cmd, p], capture_output=True, text=True), sample)
            )
        measured["a_separate"] = time.perf_counter() - start
        times["a_separate"] = measured["a_separate"] * scale
        failed = [p.stderr[-2000:] for p in procs if p.returncode]
        if failed:
            print(failed[0], file=sys.stderr)
            return 2
        print(
            f"(a) {len(sample)} separate processes ({args.jobs} at a time): {measured['a_separate']:.1f} s"
            + (f", projected to {len(personas)}: {times['a_separate']:.1f} s" if scale != 1 else ""),
            flush=True,
        )
        variants = [
            ("b_packed", "(b) packed, one after another in one process", False, 1),
            ("c_batched", "(c) packed and batched in one process", True, 1),
        ]
        if args.device == "cpu":
            variants += [
                ("d_packed_workers", f"(d) packed over {args.threads} forked workers", False, args.threads),
                (
                    "e_batched_workers",
                    f"(e) packed and batched over {args.threads} forked workers",
                    True,
                    args.threads,
                ),
            ]
        diffs = {}
        alone = [json.loads((tmp / "a" / p / "train_log.json").read_text()) for p in sample]
        same_epochs = True
        for key, label, batched, workers in variants:
            start = time.perf_counter()
            for group in groups if batched else [sample]:
                train(spec, group, tmp / key, batched=batched, workers=workers)
            measured[key] = time.perf_counter() - start
            times[key] = measured[key] * (1 if batched else scale)
            how = f" ({len(groups)} groups of <= {len(groups[0])})" if batched and len(groups) > 1 else ""
            note = f", projected to {len(personas)}: {times[key]:.1f} s" if not batched and scale != 1 else ""
            print(f"{label}{how}: {measured[key]:.1f} s{note}", flush=True)
            diffs[key] = compare_adapters(tmp / "a", tmp / key, sample)
            logs = [json.loads((tmp / key / p / "train_log.json").read_text()) for p in sample]
            same_epochs &= all(x["best_epoch"] == y["best_epoch"] for x, y in zip(logs, alone, strict=True))
    print(
        "adapters vs (a): "
        + ", ".join(f"{key[0]} max |diff| {d:.2e}" for key, d in diffs.items())
        + f"; same best epochs: {same_epochs}"
    )
    best = min(diffs, key=times.get)
    speedup = times["a_separate"] / times[best]
    result = {
        "personas": len(personas),
        "device": args.device,
        "geometry": args.geometry,
        "threads": args.threads,
        "seconds": {k: round(v, 2) for k, v in times.items()},  # for all personas (projected from --sample)
        "measured_seconds": {k: round(v, 2) for k, v in measured.items()},
        "sample": len(sample),
        "batch_group": len(groups[0]),
        "max_abs_diff_vs_a": diffs,
        "same_best_epochs": same_epochs,
        "speedup": {k: round(times["a_separate"] / times[k], 2) for k in diffs},
        "best": best,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    # Float sums may run in another order (other thread counts, batch shapes): equal up to rounding.
    # The workflow's packs and forked workers are bit-equal to a job of their own (tests/test_model.py).
    agree = all(d < (1e-3 if "batched" in k else 1e-4) for k, d in diffs.items()) and same_epochs
    print(f"speed-up: {speedup:.2f}x ({best} over a_separate)")
    return 0 if agree and speedup >= args.min_speedup else 1


if __name__ == "__main__":
    sys.exit(main())
