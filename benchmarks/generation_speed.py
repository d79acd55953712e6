"""Batched harness generation vs one prompt at a time, on the demo model and the demo's test targets.

Every mode calls the harness's own routine, `adaptcommand.evaluate.generate.generate` (greedy,
length-sorted, left-padded): batched with `--batch-size` rows per `model.generate` call, the reference
with batch_size=1 (one unpadded prompt per call, i.e. a plain loop of model.generate). All modes run
on the SAME prompts (the demo workflow's test-split evaluation targets, built with the shared prompt
builder) in one process; the script prints seconds, examples/s, the speed-up and how many greedy
outputs differ from the one-at-a-time outputs. A "prefill" variant times the prompt forward pass
alone (the part batching barely speeds up on a CPU) and bounds the possible speed-up. With `--lora`
(default) it repeats the comparison with one LoRA adapter per persona: a PEFT mixed-adapter batch
(`adapter_names`, one per row) and per-adapter batches vs one prompt at a time with its adapter.

    python benchmarks/generation_speed.py --base /tmp/demo_base --n-targets 0 \
        --max-new-tokens 40 --batch-size 64 --threads 2 --sweep 8,16,32

With `--workdir <a finished demo run>` it reads that run's own files: models/base, the cleaned
dialogues and results/eval/test/targets.jsonl (exactly the targets the workflow scored). Without it
(e.g. on a lent GPU machine) and without an existing `--base` directory the demo base model is built
there first (about 80 s on two cores) from `--config` (default config/demo.yaml) with `model.demo.seed`, as
the workflow's build rule does, and the targets are built as the workflow builds them.
Exit status 1 if the bar is missed: batched >= --min-speedup x one-at-a-time with identical outputs.
Results and their discussion: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # one progress bar per single-prompt call is noise
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from adaptcommand.adapters import lora_config  # noqa: E402
from adaptcommand.config_checks import load_config  # noqa: E402
from adaptcommand.data.clean import clean  # noqa: E402
from adaptcommand.data.io import load_dialogs  # noqa: E402
from adaptcommand.data.splits import make_splits, split_dialogs  # noqa: E402
from adaptcommand.demo.synthetic import write_raw  # noqa: E402
from adaptcommand.evaluate.generate import batches_by_length, generate  # noqa: E402
from adaptcommand.evaluate.prefix_sharing import (  # noqa: E402
    find_hosts,
    left_pad,
    plan_batches,
    positions,
    shared_prefix_inputs,
)
from adaptcommand.evaluate.targets import eval_targets  # noqa: E402
from adaptcommand.model.architecture import QWEN25_05B  # noqa: E402
from adaptcommand.model.loading import load_base, pick_dtype  # noqa: E402
from adaptcommand.prompts import PromptConfig, generation_prompt  # noqa: E402
from adaptcommand.settings import recipe_from  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(REPO / "config" / "demo.yaml"))
    ap.add_argument(
        "--workdir", help="a finished demo run: its models/base, dialogues and test targets are used"
    )
    ap.add_argument("--base", default="/tmp/demo_base", help="demo base model dir (built if missing)")
    ap.add_argument("--n-targets", type=int, default=0, help="targets, spread evenly (0 = all)")
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument(
        "--sweep", default="", help="extra batch sizes for the base model, comma separated (e.g. 8,16,32)"
    )
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    ap.add_argument(
        "--geometry",
        choices=["demo", "qwen2.5-0.5b"],
        default="demo",
        help="demo: the demo base model; qwen2.5-0.5b: a randomly initialised model of "
        "Qwen2.5-0.5B-Instruct's shape (no weights needed, throughput only) with the demo tokenizer",
    )
    ap.add_argument("--lora", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--repeats", type=int, default=3, help="timing rounds per mode (fastest kept)")
    ap.add_argument("--min-speedup", type=float, default=10.0)
    ap.add_argument("--json", help="also write the results to this JSON file")
    return ap.parse_args(argv)


def ensure_base(base: str, cfg: dict) -> str:
    if (Path(base) / "config.json").exists():
        return "reused"
    from adaptcommand.demo.base import build_demo_base

    print(f"building the demo base model in {base} ...", file=sys.stderr, flush=True)
    build_demo_base(
        base,
        PromptConfig.from_section(cfg["prompt"]),
        cfg["model"]["demo"],
        seed=cfg["model"]["demo"]["seed"],
    )
    return "built"


def demo_targets(cfg: dict) -> tuple[list[dict], list[dict]]:
    """The demo's test-split dialogues and evaluation targets, built as the workflow builds them."""
    data = cfg["data"]
    with tempfile.TemporaryDirectory() as tmp:
        write_raw(tmp, data["n_personas"], data["sessions_per_persona"], data["synthetic_seed"])
        clean(tmp, f"{tmp}/dialogs.jsonl", data["n_personas"], data["sessions_per_persona"])
        dialogs = load_dialogs(f"{tmp}/dialogs.jsonl")
    splits = make_splits(dialogs, cfg["split"]["train_frac"], cfg["split"]["val_frac"])
    test = split_dialogs(dialogs, splits, "test")
    return test, eval_targets(test, cfg["eval"]["skip_assistant_turns"], cfg["prompt"]["context_messages"])


def workflow_targets(workdir: Path) -> tuple[list[dict], list[dict]]:
    """A finished run's test-split dialogues and the evaluation targets its workflow wrote."""
    from adaptcommand.data.io import load_splits, read_jsonl

    dialogs = load_dialogs(workdir / "data/cleaned/dialogs_clean.jsonl")
    test = split_dialogs(dialogs, load_splits(workdir / "data/splits/edgesplits.json"), "test")
    targets = [row for _, row in read_jsonl(workdir / "results/eval/test/targets.jsonl")]
    return test, targets


def spread(items: list, n: int) -> list:
    """n items evenly spaced over the list (all of them for n <= 0 or n >= len), order kept."""
    if n <= 0 or n >= len(items):
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


class Contention:
    """How much of the machine's CPU time other processes took since construction (Linux /proc/stat)."""

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        hz = os.sysconf("SC_CLK_TCK")
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / hz  # all but idle and iowait
        own = sum(os.times()[:2])
        return busy, own, time.monotonic()

    def foreign_share(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None:
            return None
        busy, own, wall = (e - s for e, s in zip(end, self.start, strict=True))
        return max(0.0, busy - own) / (wall * (os.cpu_count() or 1))


def timed(fn):
    """(wall seconds, CPU seconds of this process, all threads, result)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    cpu, start = time.process_time(), time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, time.process_time() - cpu, out


def one_at_a_time(model, tok, prompts, names, max_new_tokens, *, set_adapter=False):
    """A plain loop: one unpadded prompt per `generate` call. With `names` each prompt uses its adapter,
    either switched with PEFT's set_adapter (`set_adapter=True`) or passed as a one-row adapter_names."""
    out = []
    for i, p in enumerate(prompts):
        kwargs = {}
        if names is not None and set_adapter:
            model.set_adapter(names[i])
        elif names is not None:
            kwargs["adapter_names"] = [names[i]]
        out.append(
            generate(
                model, tok, [p], max_new_tokens=max_new_tokens, batch_size=1, share_prefixes=False, **kwargs
            )[0]
        )
    return out


def grouped_by_adapter(model, tok, prompts, names, max_new_tokens, batch_size):
    """Batched per adapter: set_adapter(name), then the harness's batched generate on its prompts."""
    out = [""] * len(prompts)
    for name in sorted(set(names)):
        rows = [i for i, n in enumerate(names) if n == name]
        model.set_adapter(name)
        texts = generate(
            model, tok, [prompts[i] for i in rows], max_new_tokens=max_new_tokens, batch_size=batch_size
        )
        for i, text in zip(rows, texts, strict=True):
            out[i] = text
    return out


@torch.no_grad()
def next_token(model, tok, prompts, batch_size, *, shared: bool = False):
    """Prefill only: the greedy first token of every prompt, batched as `generate` batches them.
    Full prompts: length-sorted, left-padded batches. `shared`: the harness's way, one pass over each
    batch's shared-prefix hosts, the rows' caches sliced from it, then each row's last token."""
    device = next(model.parameters()).device
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    if shared:
        hosts = find_hosts(ids, [""] * len(ids))
        batches = plan_batches(ids, hosts, batch_size)
    else:
        batches = batches_by_length(ids, batch_size)
    out = [0] * len(prompts)
    for rows in batches:
        if shared:
            inputs = shared_prefix_inputs(model, ids, rows, hosts, tok.pad_token_id, None)
            mask = inputs["attention_mask"]
            logits = model(
                input_ids=inputs["input_ids"][:, -1:],
                attention_mask=mask,
                position_ids=positions(mask)[:, -1:],
                past_key_values=inputs["past_key_values"],
            ).logits[:, -1]
        else:
            input_ids, mask = left_pad([ids[i] for i in rows], tok.pad_token_id, device)
            logits = model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions(mask), logits_to_keep=1
            ).logits[:, -1]
        for i, t in zip(rows, logits.argmax(-1).tolist(), strict=True):
            out[i] = t
    return out


def warm_up(modes, n=4):
    for _, fn in modes:
        fn(n)


def run_modes(variant: str, modes: list[tuple[str, callable]], n: int, repeats: int) -> list[dict]:
    """Time every mode on the same n prompts, `repeats` rounds interleaved, and keep each mode's fastest
    round (other processes only ever add time); the first mode is the one-at-a-time reference.
    Outputs must not change between rounds."""
    warm_up(modes)
    times: dict[str, list[float]] = {mode: [] for mode, _ in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode, _ in modes}
    outputs: dict[str, list] = {}
    for _ in range(repeats):
        for mode, fn in modes:
            seconds, cpu_s, out = timed(lambda fn=fn: fn(n))
            times[mode].append(seconds)
            cpu[mode].append(cpu_s)
            if outputs.setdefault(mode, out) != out:
                raise AssertionError(f"{variant} / {mode}: outputs changed between repeats")
    ref_mode = modes[0][0]
    ref_s, ref_out = min(times[ref_mode]), outputs[ref_mode]
    rows = []
    for mode, _ in modes:
        seconds, out = min(times[mode]), outputs[mode]
        differ = [i for i, (a, b) in enumerate(zip(ref_out, out, strict=True)) if a != b]
        rows.append(
            {
                "variant": variant,
                "mode": mode,
                "examples": n,
                "seconds": seconds,
                "seconds_all": times[mode],
                "cpu_s": min(cpu[mode]),
                "cpu_speedup": min(cpu[ref_mode]) / min(cpu[mode]),
                "examples_per_s": n / seconds,
                "speedup": ref_s / seconds,
                "identical": n - len(differ),
                "differ_examples": [
                    {"index": i, "reference": ref_out[i], "this": out[i]} for i in differ[:3]
                ],
                "outputs": out,
            }
        )
    return rows


def add_persona_adapters(model, personas: list[str], cfg: dict):
    """One LoRA per persona, with random (not zero) B so every adapter really changes the model."""
    from peft import get_peft_model

    lc = lora_config(recipe_from(cfg["train"]["persona"], "train.persona"))
    lc.init_lora_weights = False  # A and B random: the adapter is not a no-op
    lc.lora_dropout = 0.0
    torch.manual_seed(0)
    peft_model = get_peft_model(model, lc, adapter_name=personas[0])
    for p in personas[1:]:
        peft_model.add_adapter(p, lc)
    with torch.no_grad():  # scale B down so outputs stay text-like but persona-specific
        for name, param in peft_model.named_parameters():
            if ".lora_B." in name:
                param.mul_(0.3)
    peft_model.eval()
    return peft_model


def token_accounting(tok, outputs: list[str], prompts: list[str], max_new_tokens: int, batch_size: int):
    """Prompt tokens each approach runs, and decode row-steps the harness's batches compute vs the ones
    one-at-a-time needs (EOS counted)."""
    need = [min(max_new_tokens, len(tok(o, add_special_tokens=False)["input_ids"]) + 1) for o in outputs]
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    hosts = find_hosts(ids, [""] * len(ids))
    batches = plan_batches(ids, hosts, batch_size)
    trie: dict = {}
    unique = 0  # distinct prefixes: what an ideal prefix cache would still have to run
    for seq in ids:
        node = trie
        for t in seq:
            if t not in node:
                node[t], unique = {}, unique + 1
            node = node[t]
    return {
        "prompt_tokens": sum(len(x) for x in ids),
        "prompt_tokens_shared": sum(len(ids[h]) for b in batches for h in {hosts[i] for i in b}) + len(ids),
        "prompt_tokens_distinct_prefixes": unique,
        "hosts": len(set(hosts)),
        "new_tokens_needed": sum(need),
        "new_row_steps_batched": sum(len(b) * max(need[i] for i in b) for b in batches),
    }


def print_table(results: list[dict], args, info: dict) -> None:
    print(
        f"\ndevice {info['device']}, torch {info['torch']}, threads {args.threads}, "
        f"batch_size {args.batch_size}, "
        f"max_new_tokens {args.max_new_tokens}, greedy; base model {info['base_state']} "
        f"({info['parameters']:,} parameters); {results[0]['examples']} of {info['targets_total']} "
        f"test targets; prompt tokens mean {info['prompt_tokens_mean']:.0f}; best of {args.repeats} rounds"
    )
    head = (
        f"{'variant':<10} {'mode':<44} {'examples':>8} {'seconds':>8} {'examples/s':>10} "
        f"{'speed-up':>8} {'identical':>10} {'CPU s':>7} {'CPU speed-up':>12}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r['variant']:<10} {r['mode']:<44} {r['examples']:>8} {r['seconds']:>8.2f} "
            f"{r['examples_per_s']:>10.1f} {r['speedup']:>7.1f}x {r['identical']:>5}/{r['examples']:<4} "
            f"{r['cpu_s']:>7.2f} {r['cpu_speedup']:>11.1f}x"
        )
    print(
        "(seconds: wall clock; speed-up and identical: against the first, one-at-a-time row of the same "
        "variant; CPU s: CPU time of this process, all threads, less sensitive to other processes)"
    )
    share = info["foreign_cpu_share"]
    if share is not None:
        print(
            f"other processes used {100 * share:.0f}% of the {info['cpus']} CPUs during the run"
            + ("  -- WARNING: timings are disturbed, run again on an idle machine" if share > 0.05 else "")
        )
    for r in results:
        for d in r["differ_examples"]:
            print(f"{r['variant']} / {r['mode']} differs at #{d['index']}:")
            print(f"    reference: {d['reference']!r}\n    this     : {d['this']!r}")
    acc = info["tokens"]
    print(
        f"\ntokens: prompts {acc['prompt_tokens']:,} in full; with shared prefixes the harness runs "
        f"{acc['prompt_tokens_shared']:,} ({acc['hosts']} hosts + the last token of each row; distinct "
        f"prefixes, the least any prefix cache must run: {acc['prompt_tokens_distinct_prefixes']:,}); new "
        f"tokens needed {acc['new_tokens_needed']:,}, decode row-steps run in the harness's batches "
        f"{acc['new_row_steps_batched']:,} (rows wait for the longest answer of their batch)"
    )
    by = {(r["variant"], r["mode"]): r for r in results}
    single = by.get(("base", "one-at-a-time, full prompts (bs=1)"))
    pre_1 = by.get(("prefill", "first token only, one-at-a-time"))
    pre_b = by.get(("prefill", f"first token only, shared prefixes (bs={args.batch_size})"))
    if single and pre_1 and pre_b:
        ceiling = single["seconds"] / pre_b["seconds"]
        info["speedup_ceiling"] = ceiling
        print(
            f"prefill (prompt processing up to the first token): {pre_1['seconds']:.2f} s one at a time, "
            f"{pre_b['seconds']:.2f} s with shared prefixes, of the one-at-a-time run's "
            f"{single['seconds']:.2f} s; "
            f"batched generation cannot take less than its prefill, so its speed-up is at most "
            f"{ceiling:.1f}x here (Amdahl bound)"
        )
    if "lora_vs_base_differ" in info:
        print(
            f"LoRA adapters change {info['lora_vs_base_differ']}/{results[0]['examples']} outputs "
            "relative to the base model (so per-row adapter routing is exercised)"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(REPO / "config" / "config.yaml", args.config, workflow_dir=REPO)
    torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if args.workdir:
        workdir = Path(args.workdir)
        args.base, base_state = str(workdir / "models" / "base"), "the workflow's"
        dialogs, all_targets = workflow_targets(workdir)
    else:
        base_state = ensure_base(args.base, cfg)
        dialogs, all_targets = demo_targets(cfg)
    pc = PromptConfig.from_section(cfg["prompt"])
    targets = spread(all_targets, args.n_targets)
    model, tok = load_base(args.base, device)
    if args.geometry == "qwen2.5-0.5b":
        from adaptcommand.model.architecture import build_model

        model = build_model(tok, **QWEN25_05B, seed=0)
        with torch.no_grad():  # ids past the demo tokenizer get logit 0, below the best real token's:
            model.get_input_embeddings().weight[len(tok) :] = 0  # greedy outputs stay decodable text
        model = model.to(device=device, dtype=pick_dtype(device)).eval()
        base_state = "random Qwen2.5-0.5B geometry"
    by_key = {(d["persona_id"], d["session_id"]): d for d in dialogs}
    prompts = [
        generation_prompt(tok, by_key[(t["persona_id"], t["session_id"])], t["turn_index"], pc)
        for t in targets
    ]
    info = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "base_state": base_state,
        "parameters": sum(p.numel() for p in model.parameters()),
        "targets_total": len(all_targets),
        "prompt_tokens_mean": sum(len(tok(p)["input_ids"]) for p in prompts) / len(prompts),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
    }
    contention = Contention()
    bs, mnt = args.batch_size, args.max_new_tokens
    n = len(prompts)
    results = run_modes(
        "base",
        [
            (
                "one-at-a-time, full prompts (bs=1)",
                lambda k: one_at_a_time(model, tok, prompts[:k], None, mnt),
            ),
            (
                f"harness: batched, shared prefixes (bs={bs})",
                lambda k: generate(model, tok, prompts[:k], max_new_tokens=mnt, batch_size=bs),
            ),
            (
                f"batched, full prompts (bs={bs})",
                lambda k: generate(
                    model, tok, prompts[:k], max_new_tokens=mnt, batch_size=bs, share_prefixes=False
                ),
            ),
        ]
        + [
            (
                f"harness, sweep (bs={b})",
                lambda k, b=b: generate(model, tok, prompts[:k], max_new_tokens=mnt, batch_size=b),
            )
            for b in (int(x) for x in args.sweep.split(",") if x.strip())
        ],
        n,
        args.repeats,
    )
    info["tokens"] = token_accounting(tok, results[0]["outputs"], prompts, mnt, bs)
    # Prefill alone (the first generated token): the part both modes already process many tokens at a
    # time, so it bounds what batching can gain on a compute-bound CPU.
    results += run_modes(
        "prefill",
        [
            ("first token only, one-at-a-time", lambda k: next_token(model, tok, prompts[:k], 1)),
            (
                f"first token only, batched full prompts (bs={bs})",
                lambda k: next_token(model, tok, prompts[:k], bs),
            ),
            (
                f"first token only, shared prefixes (bs={bs})",
                lambda k: next_token(model, tok, prompts[:k], bs, shared=True),
            ),
        ],
        n,
        args.repeats,
    )
    if args.lora:
        personas = sorted({t["persona_id"] for t in targets})
        names = [t["persona_id"] for t in targets]
        pm = add_persona_adapters(model, personas, cfg)
        label = f"lora x{len(personas)}"
        results += run_modes(
            label,
            [
                (
                    "one-at-a-time, set_adapter (bs=1)",
                    lambda k: one_at_a_time(pm, tok, prompts[:k], names[:k], mnt, set_adapter=True),
                ),
                (
                    "one-at-a-time, adapter_names (bs=1)",
                    lambda k: one_at_a_time(pm, tok, prompts[:k], names[:k], mnt),
                ),
                (
                    f"harness: mixed adapter_names, shared prefixes (bs={bs})",
                    lambda k: generate(
                        pm, tok, prompts[:k], max_new_tokens=mnt, batch_size=bs, adapter_names=names[:k]
                    ),
                ),
                (
                    f"batched mixed adapter_names, full prompts (bs={bs})",
                    lambda k: generate(
                        pm,
                        tok,
                        prompts[:k],
                        max_new_tokens=mnt,
                        batch_size=bs,
                        adapter_names=names[:k],
                        share_prefixes=False,
                    ),
                ),
                (
                    f"batched per adapter, set_adapter (bs={bs})",
                    lambda k: grouped_by_adapter(pm, tok, prompts[:k], names[:k], mnt, bs),
                ),
            ],
            n,
            args.repeats,
        )
        lora_ref = next(r for r in results if r["variant"] == label)
        info["lora_vs_base_differ"] = sum(
            a != b for a, b in zip(results[0]["outputs"], lora_ref["outputs"], strict=True)
        )
    info["foreign_cpu_share"] = contention.foreign_share()
    print_table(results, args, info)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "args": vars(args),
                    **info,
                    "results": [{k: v for k, v in r.items() if k != "outputs"} for r in results],
                },
                indent=2,
            )
            + "\n"
        )
    batched = [r for r in results if r["mode"].startswith("harness:")]
    same = all(r["identical"] == r["examples"] for r in results)
    ok = same and all(r["speedup"] >= args.min_speedup for r in batched)
    print(
        f"\nbar (harness >= {args.min_speedup:g}x one-at-a-time, identical outputs): "
        f"{'MET' if ok else 'NOT MET'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
