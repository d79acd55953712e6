"""Merging LoRA adapters in weight-update space, with the merge weight chosen on validation loss.

A LoRA adapter changes a target weight by ``dW = s * B @ A`` (``s = alpha / r``). A merge of adapters
``i`` with weights ``w_i`` is the adapter whose update is ``sum_i w_i * s_i * B_i @ A_i``. PEFT's
``add_weighted_adapter(combination_type="cat")`` builds exactly that (A's stacked row-wise with
``w_i * s_i`` folded in, B's side by side, new rank = sum of ranks, scaling 1); ``"svd"`` takes the
truncated SVD of the same sum (rank = the largest source rank). ``"ties_svd"`` and ``"dare_ties_svd"``
also work on the updates ``w_i * s_i * B_i @ A_i`` of each module: TIES keeps each update's largest
``density`` share of values, elects a sign per value and sums the agreeing ones; DARE keeps a random
``density`` share, rescaled by 1 / density (drawn from torch's generator: seeded here with the training
seed), then TIES' sign election; then the truncated SVD. ``"linear"``, ``"ties"`` and ``dare_*``
average the A's and the B's separately, and ``mean(B) @ mean(A) != mean(B @ A)``: the reference study's
flaw 3. They are refused here.

Weights: a merge of K sources with total weight ``scale`` is ``scale`` times their mean update (uniform:
the sources' similarities are not used as weights, so one near-duplicate neighbour cannot dominate):
cat and svd give each source ``scale / K``; TIES and DARE already average (each value over the sources
whose sign agrees), so each source gets ``scale`` (`merge_weights`). The
total is chosen among the candidate scales by the lowest token-weighted loss on VALIDATION dialogues
(the target persona's, or the cluster members' pooled); test data is never read.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from adaptcommand.adapters import load_adapters, save_adapter
from adaptcommand.data.io import load_dialogs, load_splits
from adaptcommand.data.splits import split_dialogs
from adaptcommand.prompts import PromptConfig, training_example
from adaptcommand.train.loop import mean_loss

log = logging.getLogger(__name__)

COMBINATIONS = ("cat", "svd", "ties_svd", "dare_ties_svd")


def merge_weights(combination: str, scale: float, k: int) -> list[float]:
    """The weights of K sources merged with total weight `scale` (the module docstring)."""
    return [float(scale) if combination in ("ties_svd", "dare_ties_svd") else scale / k] * k


def lora_deltas(peft_model, adapter_name: str) -> dict[str, torch.Tensor]:
    """{module name: scaling * B @ A} of one LoRA adapter held by `peft_model`."""
    from peft.tuners.lora import LoraLayer

    out = {}
    for name, module in peft_model.named_modules():
        if isinstance(module, LoraLayer) and adapter_name in module.lora_A:
            a = module.lora_A[adapter_name].weight.detach().float()
            b = module.lora_B[adapter_name].weight.detach().float()
            out[name] = module.scaling[adapter_name] * (b @ a)
    return out


def add_merge(
    peft_model,
    sources: list[str],
    weights: list[float],
    name: str,
    combination: str = "cat",
    density: float | None = None,
) -> str:
    """Add adapter `name` = the merge in update space of `sources` with `weights` (`combination`;
    `density` for ties_svd / dare_ties_svd); returns `name`.

    PEFT silently ignores an add_weighted_adapter whose name already exists, and a density given to a
    combination that keeps every value, so both are errors here.
    """
    if combination not in COMBINATIONS:
        raise ValueError(
            f"merge combination must be one of {COMBINATIONS} (update space), got {combination!r}"
        )
    if name in peft_model.peft_config:
        raise ValueError(f"adapter {name!r} already exists: PEFT would silently keep the old one")
    if len(sources) != len(weights) or not sources:
        raise ValueError("need one weight per source adapter, and at least one source")
    if (density is None) != (combination in ("cat", "svd")):
        raise ValueError(
            f"density {density} with merge combination {combination!r}: "
            "only ties_svd and dare_ties_svd take one"
        )
    # With one source PEFT switches to "linear", which for a single adapter is exact:
    # sqrt(w*s) folded into both A and B gives w * s * B @ A.
    peft_model.add_weighted_adapter(
        adapters=list(sources),
        weights=[float(w) for w in weights],
        adapter_name=name,
        combination_type=combination,
        **({"density": float(density)} if density is not None else {}),
    )
    return name


def merge_error(peft_model, sources: list[str], weights: list[float], merged: str) -> float:
    """Largest |dW_merged - sum_i w_i dW_i| over every target module (0 up to float error for cat)."""
    want: dict[str, torch.Tensor] = {}
    for src, w in zip(sources, weights, strict=True):
        for mod, d in lora_deltas(peft_model, src).items():
            want[mod] = want.get(mod, 0) + w * d
    got = lora_deltas(peft_model, merged)
    if set(got) != set(want):
        raise AssertionError(f"merged adapter covers other modules: {sorted(set(got) ^ set(want))[:5]}")
    return max(float((got[m] - want[m]).abs().max()) for m in want)


def merge_on_val(
    base: str,
    sources: dict[str, str | Path],
    dialogs_path: str,
    splits_path: str,
    val_personas: list[str],
    pc: PromptConfig,
    scales: list[float],
    combination: str,
    out_dir: str | Path,
    batch_size: int = 4,
    target: str = "",
    density: float | None = None,
) -> dict:
    """Merge the LoRAs `sources` (name -> dir) with uniform weights scale/K, the scale chosen by the
    lowest loss on `val_personas`' val dialogues; save only the chosen merge to `out_dir`.

    Runs on CPU (a CPU rule). Returns the log written next to the adapter (train_log.json).
    """
    unit = {"sources": sources, "val_personas": val_personas, "target": target}
    return merge_many_on_val(
        base,
        {"merge": unit},
        dialogs_path,
        splits_path,
        pc,
        scales,
        combination,
        {"merge": out_dir},
        batch_size,
        density=density,
    )["merge"]


def merge_many_on_val(
    base: str,
    units: dict[str, dict],
    dialogs_path: str,
    splits_path: str,
    pc: PromptConfig,
    scales: list[float],
    combination: str,
    out_dirs: dict[str, str | Path],
    batch_size: int = 4,
    workers: int = 1,
    seed: int | None = None,
    density: float | None = None,
) -> dict[str, dict]:
    """`merge_on_val` for several merges in one process (the base model and the data loaded once):
    units = {unit: {"sources": {label: dir}, "val_personas": [...], "target": text}}; the merge of
    unit u goes to out_dirs[u]. Each merge starts from a fresh copy of the base. `workers`: the units
    spread over that many forked single-thread processes (`adaptcommand.parallel`; the same merges).
    `seed`: the training seed of the merged adapters (recorded; it seeds DARE's random draw, the only
    merge that draws). `density`: ties_svd / dare_ties_svd's share of values kept.
    Returns {unit: log}."""
    import copy

    from adaptcommand.model.loading import load_base
    from adaptcommand.parallel import fork_map, workers_for

    dialogs, splits = load_dialogs(dialogs_path), load_splits(splits_path)
    base_model, tokenizer = load_base(base, device=torch.device("cpu"))
    n_workers = workers_for(workers, len(units), "cpu")

    def merge(unit: str) -> dict:
        model = copy.deepcopy(base_model) if len(units) > 1 else base_model
        return _merge_one(
            model,
            tokenizer,
            units[unit],
            dialogs,
            splits,
            pc,
            scales,
            combination,
            out_dirs[unit],
            batch_size,
            seed,
            density,
        )

    return dict(zip(units, fork_map(merge, list(units), n_workers), strict=True))


def _merge_one(
    model,
    tokenizer,
    spec,
    dialogs,
    splits,
    pc,
    scales,
    combination,
    out_dir,
    batch_size,
    seed=None,
    density=None,
) -> dict:
    start = time.perf_counter()
    sources, val_personas, target = spec["sources"], spec["val_personas"], spec.get("target", "")
    if not sources:
        raise ValueError("no source adapters to merge")
    val_d = split_dialogs(dialogs, splits, "val", val_personas)
    names = {f"src{i}": str(d) for i, d in enumerate(sources.values())}
    peft_model = load_adapters(model, names)
    examples = [training_example(tokenizer, d, pc) for d in val_d]
    pad = tokenizer.pad_token_id
    with peft_model.disable_adapter():
        base_loss = mean_loss(peft_model, examples, batch_size, pad)
    k = len(names)
    candidates = []
    for i, scale in enumerate(scales):
        weights = merge_weights(combination, scale, k)
        torch.manual_seed(seed or 0)  # DARE's draw: the same for every candidate scale
        name = add_merge(peft_model, list(names), weights, f"merged{i}", combination, density)
        peft_model.set_adapter(name)
        # a total weight of 0 is the base: its update is exactly 0, its loss the base's (not run again)
        loss = base_loss if scale == 0 else mean_loss(peft_model, examples, batch_size, pad)
        err = merge_error(peft_model, list(names), weights, name) if combination == "cat" else None
        candidates.append({"scale": scale, "adapter": name, "val_loss": loss, "max_abs_update_error": err})
        log.info("%s, scale %.3g: val loss %.4f (base %.4f)", target, scale, loss, base_loss)
    best = min(candidates, key=lambda c: (c["val_loss"], c["scale"]))
    info = {
        "recipe": {
            "adapter": "merge",
            "combination": combination,
            "weight_scales": list(scales),
            **({"density": density} if density is not None else {}),
        },
        "seed": seed,
        "target": target,
        "sources": {label: str(d) for label, d in sources.items()},
        "combination": combination,
        "weighting": "uniform: scale x the sources' mean update (merge_weights)",
        "val_personas": sorted(val_personas),
        "n_val_dialogs": len(val_d),
        "val_loss_base": base_loss,
        "candidates": candidates,
        "chosen_scale": best["scale"],
        "chosen_weights": merge_weights(combination, best["scale"], k),
        "seconds": time.perf_counter() - start,
    }
    save_adapter(peft_model, out_dir, info, adapter_name=best["adapter"])
    return info


def fold_start(base, start_dir: str | Path, trained, adapter_name: str, out_dir: str | Path, info: dict):
    """Save to `out_dir` one LoRA on `base` that is the LoRA at `start_dir` and adapter `adapter_name`
    of `trained` (a PeftModel trained on `base` with that start merged in) together: their cat merge,
    the exact sum of both updates (merge-then-adapt served like any per-persona LoRA). Returns the
    training log `info` with what was folded."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        trained.save_pretrained(tmp, selected_adapters=[adapter_name])
        own = Path(tmp) / adapter_name if adapter_name != "default" else Path(tmp)
        model = load_adapters(base, {"start": str(start_dir), "own": str(own)})
        add_merge(model, ["start", "own"], [1.0, 1.0], "folded", "cat")
        info = {**info, "folded": {"start": str(start_dir), "rank": model.peft_config["folded"].r}}
        save_adapter(model, out_dir, info, adapter_name="folded")
    return info
